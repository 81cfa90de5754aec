// Loads settings at start-up; a bad file is fatal and Node prints the uncaught error itself.
import { readFile } from "node:fs/promises";

async function readSettings(path) {
  const text = await readFile(path, "utf8");
  return JSON.parse(text);
}

export async function loadConfig(path) {
  try {
    return await readSettings(path);
  } catch (error) {
    throw /*@uncaught-cause*/new Error(`cannot load settings from ${path}`, { cause: error });
  }
}
