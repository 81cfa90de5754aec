// Starts the app; its configuration is missing, so it dies of an uncaught error with a cause.
import { loadConfig } from "./config.mjs";

const config = await loadConfig(new URL("./settings.json", import.meta.url).pathname);
console.log(config);
