// A CommonJS module whose top level throws when required: V8 calls that frame Object.<anonymous>.
"use strict";

throw /*@top-level*/new Error("broken module");
