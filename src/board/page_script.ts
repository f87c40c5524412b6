/// <reference lib="dom" />
/**
 * The board page's script: it opens the event stream, renders each snapshot into the page in
 * place (thumbnail elements are kept and reused, so nothing flickers or reloads), draws the
 * metrics chart as inline SVG, and shows an image's history and neighbours when it is clicked.
 * Plain DOM, text content only: paths and reasons from the stream are never parsed as HTML.
 *
 * `boardPage` runs in the browser, not in Deno: it is ordinary TypeScript so that `deno check`
 * (with the DOM library referenced above), lint and fmt read it, and the page is served its
 * source text as Deno compiled it (`PAGE_SCRIPT`). So it must stay self-contained: nothing from
 * outside the function body but type-only imports, which compile away.
 */
import type {
  BoardSnapshot,
  ClusterGrid,
  ConnectionState,
  MemberDetail,
  MetricPoint,
  UpdateSummary,
} from "./board_state.ts";
import type { RefusalEvent } from "../stream/events.ts";

/** The JSON of `GET /api/images/<id>` (src/board/routes.ts). */
interface ImageDetail {
  readonly id: string;
  readonly path: string;
  readonly member: MemberDetail | null;
  readonly neighbours: { id: string; similarity: number; cluster?: number }[] | null;
}

/** The page's script; it runs once, in the browser, when /board.js loads. */
export function boardPage(): void {
  const $ = <T extends HTMLElement = HTMLElement>(id: string): T =>
    document.getElementById(id) as T;
  const SVG = "http://www.w3.org/2000/svg";
  /** An element with text content only: nothing from the stream is parsed as HTML. */
  const el = <K extends keyof HTMLElementTagNameMap>(
    tag: K,
    className?: string,
    text?: string,
  ): HTMLElementTagNameMap[K] => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const short = (id: string) => id.slice(0, 8);
  const fixed = (x: number | undefined, digits: number) =>
    typeof x === "number" ? x.toFixed(digits) : "–";
  const clock = (iso: string) => new Date(iso).toLocaleTimeString();

  /** Thumbnails by image id, reused across snapshots so the grid refreshes without flicker. */
  const thumbs = new Map<string, HTMLImageElement>();
  const sections = new Map<number, HTMLDivElement>();
  let selected: string | null = null;
  let lastVersion = -1;

  const thumb = (id: string, title: string) => {
    let img = thumbs.get(id);
    if (!img) {
      img = el("img", "thumb");
      img.src = "/thumbs/" + id + ".png";
      img.alt = "image " + short(id);
      img.dataset.id = id;
      img.loading = "lazy";
      thumbs.set(id, img);
    }
    img.title = title;
    img.classList.toggle("selected", id === selected);
    return img;
  };

  const renderConnection = (c: ConnectionState) => {
    const badge = $("connection");
    badge.dataset.state = c.state;
    const since = " since " + clock(c.since);
    badge.textContent = c.state === "connected"
      ? "NATS connected" + since
      : c.state === "in-process"
      ? "in-process bus"
      : c.state === "reconnecting"
      ? "NATS connection lost, reconnecting" + since
      : "NATS connection lost" + since;
  };

  const renderClusters = (snapshot: BoardSnapshot) => {
    const root = $("clusters");
    const total = snapshot.clusters.reduce((sum, c) => sum + c.size, 0);
    root.dataset.total = String(total);
    root.dataset.version = String(snapshot.version);
    $("waiting").hidden = snapshot.clusters.length > 0;
    const nodes = snapshot.clusters.map((c: ClusterGrid) => {
      let section = sections.get(c.cluster);
      if (!section) {
        section = el("div", "cluster");
        section.dataset.cluster = String(c.cluster);
        const title = el("h3");
        title.append(el("span", "", "cluster " + c.cluster), el("span", "size"));
        section.append(title, el("div", "thumbs"), el("div", "more"));
        sections.set(c.cluster, section);
      }
      section.dataset.size = String(c.size);
      section.querySelector(".size")!.textContent = c.size +
        (c.size === 1 ? " image" : " images");
      section.querySelector(".thumbs")!.replaceChildren(
        ...c.top.map((t) =>
          thumb(
            t.id,
            short(t.id) +
              (t.confidence === undefined
                ? ""
                : " · assigned with confidence " + fixed(t.confidence, 3)),
          )
        ),
      );
      const hidden = c.size - c.top.length;
      section.querySelector(".more")!.textContent = hidden > 0
        ? "top " + c.top.length + " shown, " + hidden + " more"
        : "";
      return section;
    });
    root.replaceChildren(...nodes);
  };

  const renderUpdates = (updates: readonly UpdateSummary[]) => {
    $("updates").replaceChildren(...updates.map((u) => {
      const row = el("tr");
      const l = u.losses;
      const losses = [
        l.pretext !== undefined ? "simclr " + fixed(l.pretext, 3) : "",
        l.total !== undefined
          ? "scan " + fixed(l.total, 3) + " (cons " + fixed(l.consistency, 3) +
            ", ent " + fixed(l.entropy, 3) + ")"
          : "",
        l.selflabel !== undefined ? "self " + fixed(l.selflabel, 3) : "",
      ].filter(Boolean).join(", ");
      const moved = u.movedCount +
        (u.moved.length > 0
          ? ": " + u.moved.map((m) => short(m.id) + " " + m.from + "→" + m.to).join(", ") +
            (u.movedCount > u.moved.length ? ", …" : "")
          : "");
      const metrics = u.accuracy === undefined
        ? "–"
        : fixed(u.accuracy, 3) + " / " + fixed(u.nmi, 3) + " / " + fixed(u.ari, 3);
      row.append(
        el("td", "", "v" + u.version + " " + clock(u.at)),
        el("td", "", String(u.images)),
        el("td", "", moved),
        el("td", "", losses),
        el("td", "", metrics),
      );
      return row;
    }));
  };

  const renderChart = (points: readonly MetricPoint[]) => {
    const box = $("chart");
    if (points.length === 0) return;
    const w = 360, h = 140, pad = 24;
    const lo = Math.min(0, ...points.map((p) => p.ari));
    const first = points[0].version, last = points[points.length - 1].version;
    const x = (v: number) =>
      pad + (last === first ? 0.5 : (v - first) / (last - first)) * (w - 2 * pad);
    const y = (m: number) => h - pad - ((m - lo) / (1 - lo)) * (h - 2 * pad);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    svg.setAttribute("width", "100%");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "accuracy, NMI and ARI by model version");
    const add = (tag: string, attrs: Record<string, string | number>, text?: string) => {
      const node = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = text;
      svg.append(node);
    };
    add("line", { x1: pad, y1: y(0), x2: w - pad, y2: y(0), stroke: "#ccd" });
    add("line", { x1: pad, y1: y(1), x2: w - pad, y2: y(1), stroke: "#eef" });
    add("text", { x: 2, y: y(1) + 3 }, "1");
    add("text", { x: 2, y: y(0) + 3 }, "0");
    add("text", { x: pad, y: h - 6 }, "v" + first);
    add("text", { x: w - pad - 20, y: h - 6 }, "v" + last);
    const series: [keyof Omit<MetricPoint, "version">, string][] = [
      ["accuracy", "#2f6fb3"],
      ["nmi", "#2f7d4f"],
      ["ari", "#d97a00"],
    ];
    series.forEach(([key, colour], i) => {
      add("polyline", {
        fill: "none",
        stroke: colour,
        "stroke-width": 1.5,
        points: points.map((p) => x(p.version).toFixed(1) + "," + y(p[key]).toFixed(1)).join(" "),
      });
      const latest = points[points.length - 1][key];
      add("text", { x: pad + 4 + i * 110, y: 12, fill: colour }, key + " " + fixed(latest, 3));
    });
    box.replaceChildren(svg);
  };

  const renderRefusals = (refusals: readonly RefusalEvent[]) => {
    $("refusals").replaceChildren(...refusals.map((r) => {
      const item = el("li");
      item.append(
        el("span", "path", r.path),
        document.createTextNode(": "),
        el("span", "reason", r.reason),
      );
      return item;
    }));
  };

  const render = (snapshot: BoardSnapshot) => {
    $("name").textContent = "· " + snapshot.name;
    $("summary").textContent = "version " + snapshot.version + " · " + snapshot.assigned +
      " images clustered";
    renderConnection(snapshot.connection);
    renderClusters(snapshot);
    renderUpdates(snapshot.updates);
    renderChart(snapshot.metrics);
    renderRefusals(snapshot.refusals);
    if (selected !== null && snapshot.version !== lastVersion) showDetail(selected);
    lastVersion = snapshot.version;
  };

  const showDetail = async (id: string) => {
    selected = id;
    for (const [key, img] of thumbs) img.classList.toggle("selected", key === id);
    const response = await fetch("/api/images/" + id);
    if (selected !== id) return;
    const panel = $("detail");
    panel.hidden = false;
    panel.dataset.id = id;
    if (!response.ok) {
      $("detail-info").textContent = ((await response.json()) as { error: string }).error;
      return;
    }
    const d = (await response.json()) as ImageDetail;
    $<HTMLImageElement>("detail-image").src = "/thumbs/" + id + ".png";
    const m = d.member;
    $("detail-info").textContent = d.path + " · " + short(id) +
      (m
        ? " · cluster " + m.cluster +
          (m.confidence === undefined ? "" : " · confidence " + fixed(m.confidence, 3))
        : " · not assigned yet");
    $("detail-history").replaceChildren(
      ...(m ? m.history : []).map((step) =>
        el(
          "li",
          "",
          "v" + step.version + " " + step.how + " → cluster " + step.cluster + " (" +
            clock(step.at) + ")",
        )
      ),
    );
    const neighbours = $("detail-neighbours");
    if (d.neighbours === null) {
      neighbours.replaceChildren(
        el(
          "span",
          "muted",
          "Neighbour lists are shown when the board runs inside the stream (stream --board).",
        ),
      );
    } else {
      neighbours.replaceChildren(...d.neighbours.map((n) => {
        const img = el("img", "thumb");
        img.src = "/thumbs/" + n.id + ".png";
        img.dataset.id = n.id;
        img.title = short(n.id) + " · similarity " + fixed(n.similarity, 3) +
          (n.cluster === undefined ? "" : " · cluster " + n.cluster);
        return img;
      }));
    }
  };

  document.addEventListener("click", (event) => {
    const target = event.target;
    if (target instanceof HTMLImageElement && target.dataset.id) showDetail(target.dataset.id);
  });
  $("close").addEventListener("click", () => {
    selected = null;
    $("detail").hidden = true;
    for (const img of thumbs.values()) img.classList.remove("selected");
  });

  // EventSource reconnects by itself after an error; the badge says when the page lost the board.
  const source = new EventSource("/events");
  const link = $("link");
  source.addEventListener("open", () => {
    link.dataset.state = "connected";
    link.textContent = "live";
  });
  source.addEventListener("error", () => {
    link.dataset.state = "unreachable";
    link.textContent = "board unreachable, retrying";
  });
  source.addEventListener("snapshot", (event) => render(JSON.parse(event.data) as BoardSnapshot));
}

/** What `GET /board.js` serves: `boardPage`'s compiled source, called once. */
export const PAGE_SCRIPT = `"use strict";\n(${boardPage.toString()})();\n`;
