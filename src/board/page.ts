/**
 * The board's one page: static HTML and CSS; `board.js` fills it from the event stream. No
 * framework and no build step.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>scanstream board</title>
<style>
  :root { font: 14px/1.4 system-ui, sans-serif; color: #1d232a; background: #f4f5f7; }
  body { margin: 0; }
  header { display: flex; gap: 1.5rem; align-items: baseline; padding: .6rem 1rem;
    background: #1d232a; color: #f4f5f7; }
  header h1 { font-size: 1.1rem; margin: 0; }
  #status { margin-left: auto; display: flex; gap: .5rem; }
  .badge { padding: .1rem .55rem; border-radius: 1rem; font-size: .85rem; background: #3b4450; }
  .badge[data-state="connected"], .badge[data-state="in-process"] { background: #2f7d4f; }
  .badge[data-state="disconnected"], .badge[data-state="reconnecting"],
  .badge[data-state="unreachable"] { background: #b3412e; }
  main { display: grid; grid-template-columns: minmax(0, 1fr) 24rem; gap: 1rem; padding: 1rem; }
  h2 { font-size: 1rem; margin: 0 0 .5rem; }
  #clusters { display: grid; grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr));
    gap: .75rem; align-content: start; }
  .cluster { background: #fff; border-radius: .4rem; padding: .5rem .6rem;
    box-shadow: 0 1px 2px #0002; }
  .cluster h3 { font-size: .95rem; margin: 0 0 .35rem; display: flex; justify-content: space-between; }
  .thumbs { display: grid; grid-template-columns: repeat(auto-fill, 40px); gap: 3px; }
  .thumb { width: 40px; height: 40px; image-rendering: pixelated; cursor: pointer;
    border: 1px solid #ccd; border-radius: 2px; background: #eee; }
  .thumb.selected { outline: 2px solid #d97a00; }
  .updates { margin-top: .75rem; }
  .more { color: #667; font-size: .85rem; margin-top: .3rem; }
  .panel { background: #fff; border-radius: .4rem; padding: .6rem; margin-bottom: .75rem;
    box-shadow: 0 1px 2px #0002; }
  table { border-collapse: collapse; width: 100%; font-size: .8rem; }
  td, th { text-align: left; padding: .15rem .3rem; border-bottom: 1px solid #eef; }
  #refusals li { font-size: .8rem; word-break: break-all; }
  #refusals .reason { color: #b3412e; }
  #detail[hidden] { display: none; }
  #detail .big { width: 160px; height: 160px; image-rendering: pixelated; border: 1px solid #ccd; }
  #detail ol { padding-left: 1.2rem; font-size: .85rem; }
  .muted { color: #667; font-size: .85rem; }
  svg text { font-size: 10px; fill: #445; }
</style>
</head>
<body>
<header>
  <h1>scanstream board <span id="name"></span></h1>
  <span id="summary" class="muted"></span>
  <div id="status">
    <span id="connection" class="badge" data-state="unknown">connecting…</span>
    <span id="link" class="badge" data-state="unknown">page connecting…</span>
  </div>
</header>
<main>
  <section>
    <h2>Clusters</h2>
    <p id="waiting" class="muted">Waiting for the first clustering…</p>
    <div id="clusters" data-total="0" data-version="0"></div>
    <div class="panel updates">
      <h2>Cluster updates</h2>
      <table><thead><tr><th>version</th><th>images</th><th>moved</th><th>losses</th>
        <th>accuracy / NMI / ARI</th></tr></thead><tbody id="updates"></tbody></table>
    </div>
  </section>
  <aside>
    <div id="detail" class="panel" hidden>
      <h2>Image <button id="close" type="button">close</button></h2>
      <img class="big" id="detail-image" alt="selected image">
      <div id="detail-info" class="muted"></div>
      <h2>Cluster history</h2>
      <ol id="detail-history"></ol>
      <h2>Neighbours</h2>
      <div id="detail-neighbours" class="thumbs"></div>
    </div>
    <div class="panel">
      <h2>Accuracy, NMI, ARI by version</h2>
      <div id="chart"><span class="muted">Shown when the stream has labels.</span></div>
    </div>
    <div class="panel">
      <h2>Refused files</h2>
      <ul id="refusals"></ul>
    </div>
  </aside>
</main>
<script src="/board.js"></script>
</body>
</html>
`;
