"""The CSS and JavaScript inlined into every explanation page (no CDN, no external file).

The script reads the explanations from ``<script type="application/json" id="kgqa-data">``,
builds one panel per explanation (a choice selector, probability bars, an SVG graph, the top
paths) and lays each choice's subgraph out with a small deterministic force layout
(Fruchterman-Reingold, seeded). After drawing it records what it drew, for tests and tools:
``svg[data-nodes]`` / ``svg[data-edges]`` on each graph, ``window.kgqaRendered`` (one
``{panel, choice, nodes, edges}`` per panel) and ``body[data-rendered="true"]``. The URL
fragment ``#choice=K`` opens every panel on choice ``K`` (default: the predicted choice).
"""

CSS = r"""
:root { --q: #1f77b4; --a: #d62728; --m: #2ca02c; --ink: #222; --muted: #777; --line: #9aa5b1; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: var(--ink); margin: 0; background: #f6f7f9; }
header { padding: 10px 18px; background: #fff; border-bottom: 1px solid #e3e6ea; }
header h1 { font-size: 16px; margin: 0; }
header .sub { color: var(--muted); font-size: 12px; }
.panels { display: grid; gap: 14px; padding: 14px; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); }
.panel { background: #fff; border: 1px solid #e3e6ea; border-radius: 8px; padding: 12px 14px; }
.panel h2 { font-size: 15px; margin: 0 0 4px 0; }
.meta { color: var(--muted); font-size: 12px; margin-bottom: 6px; }
.message { background: #fff7e0; border: 1px solid #f0d98a; border-radius: 6px; padding: 6px 8px;
           margin: 6px 0; font-size: 13px; }
.choices { display: grid; grid-template-columns: max-content 1fr max-content; gap: 3px 8px;
           align-items: center; margin: 6px 0 8px 0; }
.choice-name { cursor: pointer; padding: 1px 6px; border-radius: 4px; }
.choice-name.active { background: #e8eefc; font-weight: 600; }
.bar { height: 10px; background: #e9ecef; border-radius: 5px; overflow: hidden; cursor: pointer; }
.bar > div { height: 100%; background: #4c78a8; }
.bar.predicted > div { background: #2f5597; }
.prob { font-variant-numeric: tabular-nums; color: #444; font-size: 12px; }
.gold { color: #2ca02c; font-weight: 600; margin-left: 4px; }
.controls { display: flex; gap: 10px; align-items: center; margin: 4px 0; font-size: 13px; }
select { font: inherit; padding: 2px 4px; }
svg.graph { width: 100%; height: 520px; background: #fcfcfd; border: 1px solid #eef0f3; border-radius: 6px; }
svg.graph .edge { fill: none; stroke: var(--line); stroke-opacity: 0.75; }
svg.graph .edge.hot { stroke: #555; stroke-opacity: 1; }
svg.graph .elabel { font-size: 11px; fill: #8a94a0; pointer-events: none; }
svg.graph .elabel.minor { display: none; } svg.graph .elabel.shown { display: inline; fill: #333; }
svg.graph .node { stroke: #fff; stroke-width: 1.5px; cursor: grab; }
svg.graph .nlabel { font-size: 14px; fill: #222; pointer-events: none; paint-order: stroke;
                    stroke: #fff; stroke-width: 3px; }
.legend { display: flex; gap: 14px; font-size: 12px; color: #444; margin: 6px 0; flex-wrap: wrap; }
.legend span.key::before { content: ""; display: inline-block; width: 10px; height: 10px; border-radius: 50%;
                       margin-right: 4px; vertical-align: -1px; background: var(--c); }
.paths { margin: 6px 0 0 0; padding: 0; list-style: none; font-family: ui-monospace, Menlo, Consolas, monospace;
         font-size: 12px; }
.paths li { padding: 1px 0; }
.paths .w { display: inline-block; width: 58px; color: var(--muted); text-align: right; margin-right: 8px; }
.paths .s { display: block; margin-left: 132px; color: var(--muted); font-family: system-ui, sans-serif; font-style: italic; }
.paths li.top .t { color: #b4450a; font-weight: 600; }
.neg { color: #fff; background: #c0392b; border-radius: 3px; padding: 0 4px; margin-left: 6px; font-size: 11px;
       font-family: system-ui, sans-serif; }
svg.graph .edge.onpath { stroke: #e6550d; stroke-opacity: 0.95; }
svg.graph .edge.negated { stroke-dasharray: 5 3; }
.compare { background: #fff; border: 1px solid #e3e6ea; border-radius: 8px; padding: 10px 14px; margin: 14px 14px 0 14px; }
.compare h2 { font-size: 15px; margin: 0 0 6px 0; }
.compare .closing { font-weight: 600; margin-top: 6px; }
.compare ul { margin: 4px 0; padding-left: 18px; font-size: 13px; }
.concepts { font-size: 12px; margin: 4px 0; }
.concepts > div { margin: 1px 0; }
.concepts .q { color: var(--q); } .concepts .a { color: var(--a); }
#kgqa-tooltip { position: fixed; pointer-events: none; background: rgba(20,20,20,.92); color: #fff;
                padding: 5px 8px; border-radius: 5px; font-size: 12px; display: none; z-index: 10;
                max-width: 320px; white-space: pre-line; }
table.index { border-collapse: collapse; background: #fff; margin: 14px; }
table.index td, table.index th { border-bottom: 1px solid #e3e6ea; padding: 4px 10px; text-align: left; }
"""

JS = r"""
(function () {
  "use strict";
  var COLORS = {question: "#1f77b4", answer: "#d62728", intermediate: "#2ca02c"};
  var W = 900, H = 520, LABELLED = 24;  // edges (the shown paths' first) whose relation is always shown
  var RANKING = {occlusion: "(ranked by occlusion: the fall of this choice's logit when the path's edges are removed)",
                 attention: "(ranked by the model's attention along the path; not checked by occlusion)",
                 none: "(not ranked: shortest first)"};
  var data = JSON.parse(document.getElementById("kgqa-data").textContent);
  var tooltip = document.getElementById("kgqa-tooltip");
  window.kgqaRendered = [];
  var SVGNS = "http://www.w3.org/2000/svg";

  function el(tag, attrs, parent, text) {
    var e = document.createElement(tag);
    for (var k in (attrs || {})) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function sv(tag, attrs, parent) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in (attrs || {})) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function fmt(x) { return (x === null || x === undefined) ? "-" : Number(x).toFixed(3); }
  function rng(seed) {  // mulberry32: the same layout on every load
    return function () {
      seed |= 0; seed = seed + 0x6D2B79F5 | 0;
      var t = Math.imul(seed ^ seed >>> 15, 1 | seed);
      t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t;
      return ((t ^ t >>> 14) >>> 0) / 4294967296;
    };
  }
  function showTip(evt, text) {
    tooltip.textContent = text; tooltip.style.display = "block";
    tooltip.style.left = (evt.clientX + 12) + "px"; tooltip.style.top = (evt.clientY + 12) + "px";
  }
  function hideTip() { tooltip.style.display = "none"; }

  function layout(choice, seed) {
    var nodes = choice.nodes, n = nodes.length, rand = rng(seed);
    var counts = {question: 0, answer: 0}, totals = {question: 0, answer: 0};
    nodes.forEach(function (node) { if (node.kind in totals) totals[node.kind]++; });
    var pos = nodes.map(function (node) {  // linked concepts start in columns, the rest between
      if (node.kind in totals) {
        var slot = (counts[node.kind]++ + 0.5) / totals[node.kind];
        return {x: (node.kind === "question" ? 0.1 : 0.9) * W, y: H * (0.1 + 0.8 * slot)};
      }
      return {x: W * (0.3 + 0.4 * rand()), y: H * (0.1 + 0.8 * rand())};
    });
    if (n === 0) return pos;
    var index = {}; nodes.forEach(function (d, i) { index[d.id] = i; });
    var links = choice.edges.map(function (e) { return [index[e.src], index[e.dst]]; })
      .filter(function (l) { return l[0] !== undefined && l[1] !== undefined && l[0] !== l[1]; });
    var k = Math.sqrt((W * H) / Math.max(n, 1)) * 0.75, temp = W / 8;
    for (var it = 0; it < 300; it++) {
      var disp = pos.map(function () { return {x: 0, y: 0}; });
      for (var i = 0; i < n; i++) for (var j = i + 1; j < n; j++) {
        var dx = pos[i].x - pos[j].x, dy = pos[i].y - pos[j].y;
        var d2 = Math.max(dx * dx + dy * dy, 0.01), f = k * k / d2;
        disp[i].x += dx * f; disp[i].y += dy * f; disp[j].x -= dx * f; disp[j].y -= dy * f;
      }
      links.forEach(function (l) {
        var a = pos[l[0]], b = pos[l[1]], dx = a.x - b.x, dy = a.y - b.y;
        var d = Math.max(Math.sqrt(dx * dx + dy * dy), 0.01), f = d / k;
        disp[l[0]].x -= dx * f; disp[l[0]].y -= dy * f; disp[l[1]].x += dx * f; disp[l[1]].y += dy * f;
      });
      for (i = 0; i < n; i++) {  // question concepts drift left, answer concepts right
        var goal = nodes[i].kind === "question" ? 0.1 * W : nodes[i].kind === "answer" ? 0.9 * W : null;
        if (goal !== null) disp[i].x += (goal - pos[i].x) * 3.0;
        disp[i].y += (H / 2 - pos[i].y) * 0.05;
        var len = Math.max(Math.sqrt(disp[i].x * disp[i].x + disp[i].y * disp[i].y), 0.01);
        pos[i].x += disp[i].x / len * Math.min(len, temp);
        pos[i].y += disp[i].y / len * Math.min(len, temp);
        pos[i].x = Math.min(W - 40, Math.max(40, pos[i].x));
        pos[i].y = Math.min(H - 25, Math.max(25, pos[i].y));
      }
      temp *= 0.985;
    }
    return pos;
  }

  function radius(node) { return 6 + 14 * Math.max(0, Math.min(1, node.score || 0)); }

  function draw(panel, exp, c) {
    var choice = exp.per_choice[c], svg = panel.svg;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var defs = sv("defs", {}, svg), marker = sv("marker", {id: "arrow-" + panel.index, viewBox: "0 0 10 10",
      refX: "9", refY: "5", markerWidth: "9", markerHeight: "9", markerUnits: "userSpaceOnUse", orient: "auto-start-reverse"}, defs);
    sv("path", {d: "M0,0 L10,5 L0,10 z", fill: "#7d8792"}, marker);
    var pos = layout(choice, 1 + 7919 * panel.index + c), index = {};
    choice.nodes.forEach(function (d, i) { index[d.id] = i; });
    var maxAtt = 0;
    choice.edges.forEach(function (e) { if (e.attention !== null && e.attention > maxAtt) maxAtt = e.attention; });
    var pairCount = {}, pairSeen = {};
    choice.edges.forEach(function (e) {
      var key = Math.min(e.src, e.dst) + "-" + Math.max(e.src, e.dst);
      pairCount[key] = (pairCount[key] || 0) + 1;
    });
    var edgeLayer = sv("g", {"class": "edges"}, svg), labelLayer = sv("g", {}, svg);
    var nodeLayer = sv("g", {"class": "nodes"}, svg);
    var drawnEdges = [];
    choice.edges.forEach(function (e) {
      var i = index[e.src], j = index[e.dst];
      if (i === undefined || j === undefined) return;
      var key = Math.min(e.src, e.dst) + "-" + Math.max(e.src, e.dst);
      var k = pairSeen[key] = (pairSeen[key] || 0) + 1;
      var bend = (k - 1 - (pairCount[key] - 1) / 2) * 26 * (e.src < e.dst ? 1 : -1);
      var width = maxAtt > 0 && e.attention !== null ? 1 + 7 * e.attention / maxAtt : 1.3;
      var onPath = e.path_rank !== null && e.path_rank !== undefined;
      if (onPath) width = Math.max(width, 3.5);
      var path = sv("path", {"class": "edge" + (onPath ? " onpath" : "") + (e.negated ? " negated" : ""),
                             "stroke-width": width.toFixed(2), "data-path-rank": onPath ? String(e.path_rank) : "",
                             "marker-end": "url(#arrow-" + panel.index + ")",
                             "data-src": e.src, "data-dst": e.dst, "data-relation": e.relation}, edgeLayer);
      var label = sv("text", {"class": "elabel" + (drawnEdges.length < LABELLED ? "" : " minor"),
                              "text-anchor": "middle"}, labelLayer);
      label.textContent = e.relation;
      var tip = e.relation + (e.negated ? " (negated)" : "") + "\nattention " + fmt(e.attention) + " x uniform" +
                "\nlogit drop without it " + fmt(e.occlusion) + "\nweight " + fmt(e.weight) +
                (onPath ? "\non shown path " + (e.path_rank + 1) : "");
      sv("title", {}, path).textContent = tip;
      path.addEventListener("mouseenter", function () { label.classList.add("shown"); });
      path.addEventListener("mousemove", function (evt) { path.classList.add("hot"); showTip(evt, choice.nodes[i].name + " --" + tip.replace("\n", "--> " + choice.nodes[j].name + "\n")); });
      path.addEventListener("mouseleave", function () { path.classList.remove("hot"); label.classList.remove("shown"); hideTip(); });
      drawnEdges.push({path: path, label: label, i: i, j: j, bend: bend});
    });
    function placeEdges() {
      drawnEdges.forEach(function (d) {
        var a = pos[d.i], b = pos[d.j], dx = b.x - a.x, dy = b.y - a.y, len = Math.sqrt(dx * dx + dy * dy) || 1;
        var mx = (a.x + b.x) / 2 - dy / len * d.bend, my = (a.y + b.y) / 2 + dx / len * d.bend;
        var r = radius(choice.nodes[d.j]) + 3, ex = b.x - mx, ey = b.y - my, el2 = Math.sqrt(ex * ex + ey * ey) || 1;
        var tx = b.x - ex / el2 * r, ty = b.y - ey / el2 * r;
        d.path.setAttribute("d", "M" + a.x.toFixed(1) + "," + a.y.toFixed(1) + " Q" + mx.toFixed(1) + "," +
                            my.toFixed(1) + " " + tx.toFixed(1) + "," + ty.toFixed(1));
        d.label.setAttribute("x", ((a.x + 2 * mx + b.x) / 4).toFixed(1));
        d.label.setAttribute("y", ((a.y + 2 * my + b.y) / 4 - 2).toFixed(1));
      });
    }
    var circles = [], labels = [];
    choice.nodes.forEach(function (node, i) {
      var circle = sv("circle", {"class": "node", r: radius(node).toFixed(1), fill: COLORS[node.kind] || "#888",
                                 "data-id": node.id, "data-kind": node.kind}, nodeLayer);
      var tip = node.name + " (" + node.kind + ")\nattention " + fmt(node.attention) +
                "\nrelevance " + fmt(node.relevance) + "\nscore " + fmt(node.score);
      sv("title", {}, circle).textContent = tip;
      var label = sv("text", {"class": "nlabel", "text-anchor": "middle"}, nodeLayer);
      label.textContent = node.name.replace(/_/g, " ");
      circle.addEventListener("mousemove", function (evt) { showTip(evt, tip); });
      circle.addEventListener("mouseleave", hideTip);
      circle.addEventListener("mousedown", function (evt) {  // drag a node
        evt.preventDefault();
        var box = svg.getBoundingClientRect();
        function move(m) {
          pos[i].x = (m.clientX - box.left) * W / box.width; pos[i].y = (m.clientY - box.top) * H / box.height;
          placeNodes(); placeEdges();
        }
        function up() { window.removeEventListener("mousemove", move); window.removeEventListener("mouseup", up); }
        window.addEventListener("mousemove", move); window.addEventListener("mouseup", up);
      });
      circles.push(circle); labels.push(label);
    });
    function placeNodes() {
      circles.forEach(function (circle, i) {
        circle.setAttribute("cx", pos[i].x.toFixed(1)); circle.setAttribute("cy", pos[i].y.toFixed(1));
        labels[i].setAttribute("x", pos[i].x.toFixed(1));
        labels[i].setAttribute("y", (pos[i].y - radius(choice.nodes[i]) - 4).toFixed(1));
      });
    }
    placeNodes(); placeEdges();
    if (choice.nodes.length === 0) {
      var t = sv("text", {x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#888"}, svg);
      t.textContent = choice.message || "no graph evidence for this choice";
    }
    svg.setAttribute("data-nodes", String(circles.length));
    svg.setAttribute("data-edges", String(drawnEdges.length));
    svg.setAttribute("data-choice", String(c));
    window.kgqaRendered[panel.index] = {panel: panel.index, choice: c, nodes: circles.length, edges: drawnEdges.length};
    // side information: linked concepts, message, paths
    panel.concepts.innerHTML = "";
    var line = el("div", {}, panel.concepts);
    el("span", {}, line, "question concepts: ");
    el("span", {"class": "q"}, line, (choice.question_concepts.join(", ") || "-"));
    el("span", {}, line, " · answer concepts: ");
    el("span", {"class": "a"}, line, (choice.answer_concepts.join(", ") || "-"));
    el("div", {}, panel.concepts, "subgraph: " + choice.num_subgraph_nodes + " nodes, " +
       choice.num_subgraph_edges + " edges" + (choice.num_paths ? ", " + choice.num_paths + " paths" : "") +
       " (showing " + circles.length + " nodes, " + drawnEdges.length + " edges)");
    panel.choiceMessage.style.display = choice.message ? "block" : "none";
    panel.choiceMessage.textContent = choice.message || "";
    panel.paths.innerHTML = "";
    if (choice.paths.length) {
      panel.pathsTitle.textContent = "top paths " + (RANKING[choice.ranking] || "") +
        " · columns: logit drop when removed, attention (x uniform)";
      choice.paths.forEach(function (p, k) {
        var li = el("li", {"class": k === 0 ? "top" : "", "data-occlusion": p.occlusion === null ? "" : String(p.occlusion)}, panel.paths);
        el("span", {"class": "w"}, li, p.occlusion === null ? "-" : (p.occlusion >= 0 ? "+" : "") + fmt(p.occlusion));
        el("span", {"class": "w"}, li, p.attention === null ? "-" : Number(p.attention).toFixed(2) + "x");
        el("span", {"class": "t"}, li, p.text);
        if (p.negated && p.negated.length) el("span", {"class": "neg"}, li, "negated: " + p.negated.join(", "));
        el("span", {"class": "s"}, li, p.sentence);
      });
    } else {
      panel.pathsTitle.textContent = "no reasoning path for this choice";
    }
    panel.pathNote.style.display = choice.path_note ? "block" : "none";
    panel.pathNote.textContent = choice.path_note || "";
    panel.rows.forEach(function (row, i) { row.classList.toggle("active", i === c); });
    panel.select.value = String(c);
  }

  function buildPanel(exp, p, root) {
    var div = el("div", {"class": "panel", "data-panel": p}, root);
    el("h2", {}, div, exp.question);
    (exp.notes || []).forEach(function (note) { el("div", {"class": "message note"}, div, "note: " + note); });
    el("div", {"class": "meta"}, div, "model " + exp.model + " · attention: " + exp.attention + " · graph " +
       exp.graph + (exp.id ? " · id " + exp.id : "") + " · answer: " + exp.choices[exp.predicted]);
    if (exp.message) el("div", {"class": "message"}, div, exp.message);
    var panel = {index: p, rows: []};
    var grid = el("div", {"class": "choices"}, div);
    exp.choices.forEach(function (name, i) {
      var label = el("span", {"class": "choice-name"}, grid, name);
      if (exp.label === i) el("span", {"class": "gold"}, label, "✓");
      var bar = el("div", {"class": "bar" + (i === exp.predicted ? " predicted" : "")}, grid);
      el("div", {style: "width:" + (100 * exp.probabilities[i]).toFixed(1) + "%"}, bar);
      el("span", {"class": "prob"}, grid, exp.probabilities[i].toFixed(3));
      [label, bar].forEach(function (x) { x.addEventListener("click", function () { draw(panel, exp, i); }); });
      panel.rows.push(label);
    });
    var controls = el("div", {"class": "controls"}, div);
    el("label", {}, controls, "graph of choice ");
    panel.select = el("select", {"class": "choice-select", "aria-label": "answer choice"}, controls);
    exp.choices.forEach(function (name, i) {
      el("option", {value: String(i)}, panel.select, name + " (" + exp.probabilities[i].toFixed(3) + ")");
    });
    panel.select.addEventListener("change", function () { draw(panel, exp, Number(panel.select.value)); });
    var legend = el("div", {"class": "legend"}, div);
    [["question concept", COLORS.question], ["answer concept", COLORS.answer], ["other concept", COLORS.intermediate]]
      .forEach(function (x) { el("span", {"class": "key", style: "--c:" + x[1]}, legend, x[0]); });
    el("span", {"class": "key", style: "--c:#e6550d"}, legend, "edges of the shown paths");
    el("span", {}, legend, "size = node score, width = edge attention (dashed: negated relation); hover for scores, drag to move");
    panel.concepts = el("div", {"class": "concepts"}, div);
    panel.choiceMessage = el("div", {"class": "message"}, div);
    panel.svg = sv("svg", {"class": "graph", viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "xMidYMid meet",
                           role: "img", "aria-label": "subgraph"}, div);
    panel.pathsTitle = el("div", {"class": "meta"}, div);
    panel.paths = el("ul", {"class": "paths"}, div);
    panel.pathNote = el("div", {"class": "message path-note"}, div);
    var wanted = /choice=(\d+)/.exec(window.location.hash || "");  // e.g. page.html#choice=2
    var first = wanted && Number(wanted[1]) < exp.choices.length ? Number(wanted[1]) : exp.predicted;
    draw(panel, exp, first >= 0 ? first : 0);
  }

  function buildComparison(diff, root) {
    var div = el("div", {"class": "compare", id: "kgqa-compare"}, root);
    el("h2", {}, div, "What differs between the two contexts");
    var ul = el("ul", {}, div);
    el("li", {}, ul, "linked only in the first: " + (diff.concepts.only_first.join(", ") || "-") +
       "; only in the second: " + (diff.concepts.only_second.join(", ") || "-"));
    el("li", {}, ul, "probability change (first -> second): " + diff.shifts.map(function (s) {
      return s.choice + " " + (s.change >= 0 ? "+" : "") + s.change.toFixed(3); }).join(", "));
    diff.paths.forEach(function (row) {
      [["only_first", "first"], ["only_second", "second"]].forEach(function (k) {
        row[k[0]].forEach(function (p) {
          var li = el("li", {"class": "diff-path"}, ul, row.choice + ": shown only in the " + k[1] + " context (" +
             (p.occlusion === null ? "not checked" : "logit drop " + (p.occlusion >= 0 ? "+" : "") + fmt(p.occlusion)) +
             "): " + p.text);
          if (p.negated.length) el("span", {"class": "neg"}, li, "negated: " + p.negated.join(", "));
        });
      });
    });
    el("div", {"class": "closing"}, div, diff.closing);
  }

  var compareData = document.getElementById("kgqa-compare-data");
  if (compareData) buildComparison(JSON.parse(compareData.textContent), document.getElementById("comparison"));
  var root = document.getElementById("panels");
  data.forEach(function (exp, p) { buildPanel(exp, p, root); });
  document.body.setAttribute("data-rendered", "true");
})();
"""
