// A tiny template engine: templates compile to functions made with new Function.
"use strict";

function compile(source) {
  const body = "return `" + source.replace(/\{\{(.+?)\}\}/g, "${data.$1}") + "`;";
  return new Function("data", body);
}

const cache = new Map();

function render(name, source, data) {
  if (!cache.has(name)) cache.set(name, compile(source));
  const template = cache.get(name);
  return /*@template*/template(data);
}

exports.template = () => {
  try {
    render("greeting", "Hello {{user.profile.name}}!", { user: {} });
  } catch (error) {
    return error.stack;
  }
};
