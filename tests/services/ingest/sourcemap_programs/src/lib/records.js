// Records loaded asynchronously, so the stack crosses awaits.
async function fetchRecord(id) {
  await Promise.resolve();
  throw new Error(`record ${id} is missing`);
}

export async function loadRecord(id) {
  const record = await fetchRecord(id);
  return record;
}
