// The playground: POST /v1/explain (verdict, spans) and /scan/output (NoRefusal risk), then show
// the output with each refusal span in a <mark>. Span offsets are Unicode code points (Python),
// so the text is sliced as an array of code points, not UTF-16 units.
"use strict";

const $ = (id) => document.getElementById(id);

async function post(path, body) {
  const headers = { "Content-Type": "application/json" };
  const token = $("token").value.trim();
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`${response.status}: ${data.detail || response.statusText}`);
  return data;
}

function highlight(text, spans) {
  const chars = Array.from(text);
  const target = $("highlighted");
  target.replaceChildren();
  let pos = 0;
  for (const span of [...spans].sort((a, b) => a.start - b.start)) {
    if (span.start > pos) target.append(chars.slice(pos, span.start).join(""));
    const mark = document.createElement("mark");
    mark.className = "refusal";
    mark.title = `P(refusal) ${span.score.toFixed(2)}`;
    mark.textContent = chars.slice(span.start, span.end).join("");
    target.append(mark);
    pos = span.end;
  }
  if (pos < chars.length) target.append(chars.slice(pos).join(""));
}

async function check(event) {
  event.preventDefault();
  const output = $("output").value;
  const prompt = $("prompt").value;
  $("error").hidden = true;
  $("check").disabled = true;
  try {
    const [explained, scanned] = await Promise.all([
      post("/v1/explain", { text: output, prompt: prompt || null }),
      post("/scan/output", { prompt, output }),
    ]);
    const verdict = $("verdict");
    verdict.textContent = explained.verdict.replace("_", " ");
    verdict.className = `verdict ${explained.verdict}`;
    verdict.dataset.verdict = explained.verdict;
    $("score").textContent = explained.score.toFixed(3);
    $("share").textContent = `${Math.round(explained.refusal_share * 100)}%`;
    const risk = scanned.scanners.NoRefusal;
    $("risk").textContent = `${scanned.is_valid ? "valid" : "invalid"} (risk ${risk})`;
    highlight(output, explained.spans);
    $("result").hidden = false;
  } catch (err) {
    $("error").textContent = err.message;
    $("error").hidden = false;
  } finally {
    $("check").disabled = false;
  }
}

$("form").addEventListener("submit", check);
