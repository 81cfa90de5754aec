// An editor whose handlers are methods passed to addEventListener and compiled validators.
class Editor {
  constructor(button) {
    this.document = null;
    button.addEventListener("click", (event) => this.onSave(event));
  }

  onSave() {
    try {
      return this.document./*@event-handler*/serialize();
    } catch (error) {
      window.holdout.eventHandler = error.stack;
      return null;
    }
  }
}

const compiled = new Map();

function validator(rule) {
  if (!compiled.has(rule)) compiled.set(rule, new Function("value", `return ${rule};`));
  return compiled.get(rule);
}

function validate(rule, value) {
  const check = validator(rule);
  return /*@compiled-validator*/check(value);
}

new Editor(document.getElementById("save"));
document.getElementById("save").click();
try {
  validate("value.length > 2 && value.items.length > 0", "abc");
} catch (error) {
  window.holdout.compiledValidator = error.stack;
}
