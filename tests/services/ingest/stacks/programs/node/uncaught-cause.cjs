// Dies of an uncaught error with a cause: Node prints the source line, a caret, then the error as
// util.inspect does, causes included.
"use strict";

function connect() {
  throw /*@connect*/new Error("connect ECONNREFUSED 127.0.0.1:5432");
}

function migrate() {
  try {
    /*@connect-call*/connect();
  } catch (error) {
    throw /*@migrate*/new Error("the migration did not run", { cause: error });
  }
}

/*@migrate-call*/migrate();
