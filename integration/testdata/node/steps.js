// steps.js holds what the Node.js transcripts share: running one step and
// printing what came of it as one line.
'use strict';

// stepper returns step(name, fn), which runs fn and prints "name: " and
// what it returned, or describe(error) when it threw.
function stepper(describe) {
  return async function step(name, fn) {
    let out;
    try {
      out = await fn();
    } catch (e) {
      out = describe(e);
    }
    console.log(`${name}: ${out}`);
  };
}

module.exports = { stepper };
