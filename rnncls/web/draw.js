// The drawing page of `rnncls serve`: draw on #pad, and each change is sent to
// POST predict as a PNG; the answer fills the 28x28 view, the reading-order view and
// the ten probability bars. One request at a time: while one is out, strokes only
// mark the picture as changed, and the newest picture goes next. The body's data-state
// says where the page is: empty, sending, answered or error (the browser test waits on it).
"use strict";

const pad = document.getElementById("pad");
const pen = pad.getContext("2d");
const view = document.getElementById("view").getContext("2d");
const reading = document.getElementById("reading").getContext("2d");
const bars = document.getElementById("bars");
const shown = document.getElementById("prediction");
const status = document.getElementById("status");
let order = null; // the pixel each position of the reading takes (from GET model)
let pen_id = null; // the one pointer that draws: a second finger or a resting palm does not
let last = null;
let generation = 0; // one more at each Clear: an answer to an older picture is dropped
const ANSWER_TIMEOUT_MS = 10000;
let inked = false;
let changed = false;
let sending = false;

function say(text, isError = false) {
  status.textContent = text;
  status.classList.toggle("error", isError);
}

function setState(state) {
  document.body.dataset.state = state;
}

function makeBars() {
  for (let digit = 0; digit < 10; digit++) {
    const row = document.createElement("li");
    row.innerHTML = '<span class="digit"></span><span class="track"><span class="fill">' +
      '</span></span><span class="value"></span>';
    row.querySelector(".digit").textContent = String(digit);
    bars.appendChild(row);
  }
}

function showBars(probabilities, best) {
  [...bars.children].forEach((row, digit) => {
    const p = probabilities ? probabilities[digit] : 0;
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".value").textContent = probabilities ? `${(100 * p).toFixed(1)}%` : "";
    row.classList.toggle("best", digit === best);
  });
}

function paint(context, pixels) {
  const picture = context.createImageData(28, 28);
  pixels.forEach((level, index) => {
    picture.data.set([level, level, level, 255], 4 * index);
  });
  context.putImageData(picture, 0, 0);
}

function show(answer) {
  shown.textContent = String(answer.prediction);
  showBars(answer.probabilities, answer.prediction);
  const pixels = answer.image.flat();
  paint(view, pixels);
  if (order) paint(reading, order.map((index) => pixels[index]));
  say(`${answer.prediction}, with probability ${(100 * answer.probability).toFixed(1)}%`);
}

function clearAll() {
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, pad.width, pad.height);
  for (const context of [view, reading]) context.clearRect(0, 0, 28, 28);
  shown.innerHTML = "&ndash;";
  showBars(null, -1);
  inked = false;
  changed = false;
  generation += 1;
  say("draw with a mouse, a pen or a finger");
  setState("empty");
}

async function send() {
  if (sending || !changed || !inked) return;
  sending = true;
  changed = false;
  setState("sending");
  const asked = generation;
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), ANSWER_TIMEOUT_MS);
  let outcome = "error";
  try {
    const png = await new Promise((done) => pad.toBlob(done, "image/png"));
    const response = await fetch("predict?image=true", {
      method: "POST", headers: { "Content-Type": "image/png" }, body: png, signal: stop.signal,
    });
    const body = await response.json();
    if (asked !== generation) { // cleared while the answer was on its way
      outcome = inked ? "sending" : "empty";
      return;
    }
    if (response.ok) {
      show(body.predictions[0]);
      outcome = "answered";
    } else say(body.error, true);
  } catch (error) {
    const why = error.name === "AbortError" ? "no answer in 10 s" : error.message;
    say(`no answer from the server (${why})`, true);
  } finally {
    clearTimeout(timer);
    sending = false;
    if (changed) send();
    else setState(outcome);
  }
}

function at(event) {
  const box = pad.getBoundingClientRect();
  return [
    (event.clientX - box.left) * (pad.width / box.width),
    (event.clientY - box.top) * (pad.height / box.height),
  ];
}

function stroke(from, to, pressure) {
  pen.strokeStyle = "#fff";
  pen.lineCap = "round";
  pen.lineJoin = "round";
  // About MNIST's stroke width: a tenth of the pad; a pen presses it wider or thinner.
  pen.lineWidth = (pad.width / 12) * (pressure > 0 && pressure !== 0.5 ? 0.6 + pressure : 1);
  pen.beginPath();
  pen.moveTo(...from);
  pen.lineTo(...to);
  pen.stroke();
  inked = true;
  changed = true;
}

pad.addEventListener("pointerdown", (event) => {
  // the primary pointer only (the first finger, the pen, the mouse's left button)
  if (pen_id !== null || !event.isPrimary || event.button !== 0) return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  pen_id = event.pointerId;
  last = at(event);
  stroke(last, last, event.pressure);
  send();
});
pad.addEventListener("pointermove", (event) => {
  if (event.pointerId !== pen_id) return;
  const points = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const point of points.length ? points : [event]) {
    const next = at(point);
    stroke(last, next, point.pressure);
    last = next;
  }
  send();
});
for (const name of ["pointerup", "pointercancel"]) {
  pad.addEventListener(name, (event) => {
    if (event.pointerId !== pen_id) return;
    pen_id = null;
    send();
  });
}
pad.addEventListener("contextmenu", (event) => event.preventDefault());
document.getElementById("clear").addEventListener("click", clearAll);

async function describeModel() {
  const text = document.getElementById("model");
  try {
    const model = await (await fetch("model")).json();
    const parts = [model.run ? `run ${model.run}` : `model ${model.model}`];
    if (model.steps != null) parts.push(`${model.steps} steps`);
    if (model.test_accuracy != null) {
      parts.push(`test accuracy ${model.test_accuracy.toFixed(4)}`);
    }
    if (model.sequence) {
      parts.push(`reads ${model.sequence.description}`);
      if (model.sequence.order !== "rows") {
        order = model.sequence.indices;
        document.getElementById("reading-caption").textContent =
          `the same pixels in the order the model reads them (${model.sequence.description}), ` +
          "laid out row after row";
        document.getElementById("reading-figure").hidden = false;
      }
    }
    text.textContent = parts.join(" \u00b7 ");
  } catch (error) {
    text.textContent = `cannot reach the server (${error.message})`;
  }
}

makeBars();
clearAll();
describeModel();
