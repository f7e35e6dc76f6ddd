// The page of `rnncls serve`. For a run of grey pictures: draw on #pad, and each change
// is sent to POST predict as a PNG; the answer fills the view of the picture the model
// read (the run's own size), the reading-order view and a probability bar a class. One
// request at a time: while one is out, strokes only mark the picture as changed, and the
// newest picture goes next. For a run of colour pictures the pad gives way to an upload
// box. The body's data-state says where the page is: empty, sending, answered or error
// (the browser tests wait on it). For a run of univariate series the pad draws a curve,
// left to right: each change sends the run's number of samples of it as a JSON array;
// for multivariate series the upload box takes a .npy array.
"use strict";

const pad = document.getElementById("pad");
const pen = pad.getContext("2d");
const viewCanvas = document.getElementById("view");
const readingCanvas = document.getElementById("reading");
const view = viewCanvas.getContext("2d");
const reading = readingCanvas.getContext("2d");
const bars = document.getElementById("bars");
const upload = document.getElementById("upload");
const shown = document.getElementById("prediction");
const status = document.getElementById("status");
let order = null; // the pixel each position of the reading takes (from GET model)
// what the model reads (GET model's dataset): MNIST's until the server has said
let dataset = {
  height: 28, width: 28, channels: 1, pixel_max: 255, preparation: "digits",
  classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
};
let pen_id = null; // the one pointer that draws: a second finger or a resting palm does not
let last = null;
let generation = 0; // one more at each Clear: an answer to an older picture is dropped
const ANSWER_TIMEOUT_MS = 10000;
let inked = false;
let heights = []; // a series run: the height drawn at each column of the pad (or null)
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
  bars.replaceChildren();
  for (const name of dataset.classes) {
    const row = document.createElement("li");
    row.innerHTML = '<span class="digit"></span><span class="track"><span class="fill">' +
      '</span></span><span class="value"></span>';
    row.querySelector(".digit").textContent = String(name);
    row.querySelector(".digit").title = String(name);
    bars.appendChild(row);
  }
}

function showBars(probabilities, best) {
  [...bars.children].forEach((row, index) => {
    const p = probabilities ? probabilities[index] : 0;
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".value").textContent = probabilities ? `${(100 * p).toFixed(1)}%` : "";
    row.classList.toggle("best", index === best);
  });
}

// Pixels flat, row after row (grey: a value each; colour: three), on the 0..255 scale.
function paint(context, pixels, channels) {
  const { width, height } = context.canvas;
  const picture = context.createImageData(width, height);
  const scale = 255 / dataset.pixel_max;
  for (let index = 0; index < width * height; index++) {
    const at = channels * index;
    const [r, g, b] = channels === 3
      ? [pixels[at], pixels[at + 1], pixels[at + 2]]
      : [pixels[at], pixels[at], pixels[at]];
    picture.data.set([r * scale, g * scale, b * scale, 255], 4 * index);
  }
  context.putImageData(picture, 0, 0);
}

function show(answer) {
  shown.textContent = String(answer.prediction);
  const best = dataset.classes.findIndex((name) => name === answer.prediction);
  showBars(answer.probabilities, best);
  if (isSeries()) plotSeries(view, answer.image);
  else {
    const pixels = answer.image.flat(2);
    paint(view, pixels, dataset.channels);
    if (order) paint(reading, order.map((index) => pixels[index]), 1);
  }
  say(`${answer.prediction}, with probability ${(100 * answer.probability).toFixed(1)}%`);
}

function isSeries() {
  return dataset.kind === "series";
}

// A series (steps of values, null where missing) as lines on a canvas, a colour a channel.
function plotSeries(context, steps) {
  const { width, height } = context.canvas;
  context.fillStyle = "#000";
  context.fillRect(0, 0, width, height);
  const values = steps.flat().filter((v) => v !== null);
  const low = Math.min(...values), high = Math.max(...values);
  const span = high > low ? high - low : 1;
  const colours = ["#7fb3ff", "#ffb36b", "#8fe38f", "#ff8a8a", "#d7a6ff", "#f5e36b"];
  for (let channel = 0; channel < steps[0].length; channel++) {
    context.strokeStyle = colours[channel % colours.length];
    context.lineWidth = 1.5;
    context.beginPath();
    let drawing = false;
    steps.forEach((step, index) => {
      const value = step[channel];
      if (value === null) { drawing = false; return; }
      const x = steps.length > 1 ? (index / (steps.length - 1)) * (width - 1) : width / 2;
      const y = (1 - (value - low) / span) * (height - 4) + 2;
      if (drawing) context.lineTo(x, y); else context.moveTo(x, y);
      drawing = true;
    });
    context.stroke();
  }
}

// The drawn curve as the run's number of samples, in its first channel's range (the
// pad's height spans its mean +- 3 standard deviations); columns not drawn between
// drawn ones are joined by a straight line, and the series ends at the last one drawn.
function drawnSeries() {
  const known = heights.map((h, column) => [column, h]).filter(([, h]) => h !== null);
  if (!known.length) return [];
  const last = known[known.length - 1][0];
  const samples = Math.max(2, Math.round(dataset.steps * (last + 1) / pad.width));
  const series = [];
  let at = 0;
  for (let i = 0; i < samples; i++) {
    const column = (i / (samples - 1)) * last;
    while (at + 1 < known.length && known[at + 1][0] <= column) at++;
    const [x0, y0] = known[at];
    const [x1, y1] = known[Math.min(at + 1, known.length - 1)];
    const y = x1 > x0 && column > x0 ? y0 + ((y1 - y0) * (column - x0)) / (x1 - x0) : y0;
    series.push(dataset.mean[0] + (0.5 - y / pad.height) * 6 * dataset.std[0]);
  }
  return series;
}

function recordHeights(from, to) {
  const [x0, y0] = from, [x1, y1] = to;
  const first = Math.max(0, Math.round(Math.min(x0, x1)));
  const last = Math.min(pad.width - 1, Math.round(Math.max(x0, x1)));
  for (let column = first; column <= last; column++) {
    heights[column] = x1 === x0 ? y1 : y0 + ((y1 - y0) * (column - x0)) / (x1 - x0);
  }
}

function clearAll() {
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, pad.width, pad.height);
  for (const context of [view, reading]) {
    context.clearRect(0, 0, context.canvas.width, context.canvas.height);
  }
  upload.value = "";
  heights = new Array(pad.width).fill(null);
  shown.innerHTML = "&ndash;";
  showBars(null, -1);
  inked = false;
  changed = false;
  generation += 1;
  say(drawing() ? "draw with a mouse, a pen or a finger" : "choose a picture to classify");
  setState("empty");
}

function drawing() {
  return dataset.channels === 1; // grey pictures, univariate series
}

async function send(file = null) {
  if (file === null && (sending || !changed || !inked)) return;
  sending = true;
  changed = false;
  setState("sending");
  const asked = generation;
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), ANSWER_TIMEOUT_MS);
  let outcome = "error";
  try {
    let body, kind;
    if (file) [body, kind] = [file, file.type || "application/octet-stream"];
    else if (isSeries()) [body, kind] = [JSON.stringify(drawnSeries()), "application/json"];
    else [body, kind] = [await new Promise((done) => pad.toBlob(done, "image/png")), "image/png"];
    const response = await fetch("predict?image=true", {
      method: "POST", headers: { "Content-Type": kind }, body, signal: stop.signal,
    });
    const answer = await response.json();
    if (asked !== generation) { // cleared while the answer was on its way
      outcome = inked ? "sending" : "empty";
      return;
    }
    if (response.ok) {
      show(answer.predictions[0]);
      outcome = "answered";
    } else say(answer.error, true);
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
  if (isSeries()) {
    recordHeights(from, to);
    pen.lineWidth = 3;
  } else {
    // About MNIST's stroke width: a tenth of the pad; a pen presses it wider or thinner.
    pen.lineWidth = (pad.width / 12) * (pressure > 0 && pressure !== 0.5 ? 0.6 + pressure : 1);
  }
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
upload.addEventListener("change", () => {
  if (upload.files.length) send(upload.files[0]);
});

// The page for the run's pictures: views of its size, a bar a class, and a pad to draw
// on where its pictures are grey (an upload box where they are in colour).
function setUp(described) {
  dataset = described;
  if (isSeries()) return setUpSeries();
  for (const canvas of [viewCanvas, readingCanvas]) {
    canvas.width = dataset.width;
    canvas.height = dataset.height;
  }
  const size = `${dataset.width}\u00d7${dataset.height}`;
  document.getElementById("view-caption").textContent = dataset.preparation === "digits"
    ? `what the model reads: ${size}, MNIST style`
    : `what the model reads: ${size}${drawing() ? "" : ", in colour"}`;
  const what = dataset.preparation === "digits" ? "a digit" : "a picture";
  document.getElementById("heading").textContent = drawing() ? `Draw ${what}` : `Classify ${what}`;
  pad.hidden = !drawing();
  document.getElementById("clear").hidden = !drawing();
  document.getElementById("upload-box").hidden = drawing();
  makeBars();
  clearAll();
}

function setUpSeries() {
  viewCanvas.width = 280;
  viewCanvas.height = 140;
  viewCanvas.classList.add("series");
  const steps = dataset.lengths[0] === dataset.lengths[1]
    ? `${dataset.steps} samples` : `${dataset.lengths[0]} to ${dataset.lengths[1]} samples`;
  document.getElementById("view-caption").textContent =
    `what the model reads: ${steps} of ${dataset.channels} channel(s)`;
  document.getElementById("heading").textContent =
    drawing() ? "Draw a series, left to right" : "Classify a series";
  document.querySelector("#upload-box span").textContent = "Choose a .npy array of series";
  upload.accept = ".npy";
  pad.hidden = !drawing();
  document.getElementById("clear").hidden = !drawing();
  document.getElementById("upload-box").hidden = drawing();
  makeBars();
  clearAll();
}

async function describeModel() {
  const text = document.getElementById("model");
  try {
    const model = await (await fetch("model")).json();
    if (model.dataset) setUp(model.dataset);
    const parts = [model.run ? `run ${model.run}` : `model ${model.model}`];
    if (model.steps != null) parts.push(`${model.steps} steps`);
    if (model.test_accuracy != null) {
      parts.push(`test accuracy ${model.test_accuracy.toFixed(4)}`);
    }
    if (model.sequence) {
      parts.push(`reads ${model.sequence.description}`);
      if (model.sequence.order !== "rows" && drawing() && !isSeries()) {
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
