/**
 * Progress on stderr, so stdout stays machine-readable: a redrawn bar on a terminal, a line per
 * tenth of the work otherwise (logs and CI).
 */

const encoder = new TextEncoder();

/** One unit of work being counted. */
export interface ProgressBar {
  /** Count `n` more done; `detail` (e.g. the last loss) is shown beside the bar. */
  tick(n?: number, detail?: string): void;
  /** Finish the bar with a last line. */
  done(detail?: string): void;
}

/** When the run's time budget ends (a `performance.now()` time), shown by every bar. */
let deadline: number | undefined;

/** Show the time left until `end` (a `performance.now()` time) on every bar; undefined: none. */
export function setDeadline(end: number | undefined): void {
  deadline = end;
}

/** `, 4m05s left` while a deadline is set (`, 0m00s left` past it). */
function timeLeft(): string {
  if (deadline === undefined) return "";
  const s = Math.max(0, Math.round((deadline - performance.now()) / 1000));
  return `, ${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s left`;
}

/** Write a line to stderr. */
export function logLine(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/** A progress bar for `total` units of `label`. */
export function progressBar(label: string, total: number): ProgressBar {
  const tty = Deno.stderr.isTerminal();
  const started = performance.now();
  let count = 0;
  let lastTenth = -1;
  const render = (detail: string) => {
    const fraction = total > 0 ? Math.min(count / total, 1) : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    return `${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${count}/${total} ` +
      `${seconds}s${timeLeft()} ${detail}`;
  };
  return {
    tick(n = 1, detail = "") {
      count += n;
      if (tty) {
        Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${render(detail)}`));
        return;
      }
      const tenth = Math.floor((count / Math.max(total, 1)) * 10);
      if (tenth !== lastTenth) {
        lastTenth = tenth;
        logLine(render(detail));
      }
    },
    done(detail = "") {
      if (tty) Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${render(detail)}\n`));
      else logLine(render(detail));
    },
  };
}
