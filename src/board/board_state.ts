/**
 * What the board knows about a stream, folded from its events: which cluster each image is in
 * now (assignments, then the moves of cluster updates), each image's cluster history, the recent
 * cluster updates with their losses and metrics, the latest refusals, and whether the bus is
 * connected. Pure bookkeeping: no I/O, no timers.
 *
 * Subjects are consumed separately, so events of different kinds may arrive in any order: each
 * image keeps the model version of its cluster, and an older assignment never overrides a newer
 * move.
 */
import type {
  AssignmentEvent,
  ClusterUpdateEvent,
  Move,
  RefusalEvent,
  RoundLosses,
} from "../stream/events.ts";

/** Whether the board hears the pipeline. */
export interface ConnectionState {
  /** `in-process`: the board runs inside the stream, on its bus, so nothing can drop. */
  readonly state: "connected" | "disconnected" | "reconnecting" | "in-process";
  /** When it changed (ISO 8601). */
  readonly since: string;
  readonly detail?: string;
}

/** One step of an image's cluster history. */
export interface HistoryStep {
  readonly version: number;
  readonly cluster: number;
  readonly at: string;
  /** `assigned` when first assigned, `moved` by a cluster update. */
  readonly how: "assigned" | "moved";
}

/** A thumbnail of a cluster's grid. */
export interface GridImage {
  readonly id: string;
  /** Confidence when last known (assignment or exemplar), else undefined. */
  readonly confidence?: number;
}

/** One cluster's grid. */
export interface ClusterGrid {
  readonly cluster: number;
  /** Images in it now. */
  readonly size: number;
  /** Its most confident images, at most `topPerCluster`. */
  readonly top: readonly GridImage[];
}

/** A cluster update as the board lists it. */
export interface UpdateSummary {
  readonly version: number;
  readonly at: string;
  readonly images: number;
  readonly sizes: readonly number[];
  /** How many images moved. */
  readonly movedCount: number;
  /** The first few moves. */
  readonly moved: readonly Move[];
  readonly losses: RoundLosses;
  readonly accuracy?: number;
  readonly nmi?: number;
  readonly ari?: number;
}

/** Metrics of one version, for the chart. */
export interface MetricPoint {
  readonly version: number;
  readonly accuracy: number;
  readonly nmi: number;
  readonly ari: number;
}

/** Everything the page shows at once. */
export interface BoardSnapshot {
  readonly name: string;
  /** Latest model version seen. */
  readonly version: number;
  /** Images with a cluster. */
  readonly assigned: number;
  readonly connection: ConnectionState;
  readonly clusters: readonly ClusterGrid[];
  /** Most recent first. */
  readonly updates: readonly UpdateSummary[];
  /** Oldest first. */
  readonly metrics: readonly MetricPoint[];
  /** Most recent first. */
  readonly refusals: readonly RefusalEvent[];
  /** Whether the page can ask for neighbours. */
  readonly neighbours: boolean;
}

/** An image's cluster and history, as the detail view shows it. */
export interface MemberDetail {
  readonly id: string;
  readonly path?: string;
  readonly cluster: number;
  readonly confidence?: number;
  readonly history: readonly HistoryStep[];
}

/** Options of `BoardState`. */
export interface BoardStateOptions {
  /** Pipeline name, shown on the page. */
  name: string;
  /** Thumbnails per cluster grid. Default 24. */
  topPerCluster?: number;
  /** Cluster updates listed. Default 12. */
  recentUpdates?: number;
  /** Moves listed per update. Default 4. */
  movesPerUpdate?: number;
  /** Refusals listed. Default 12. */
  recentRefusals?: number;
  /** History steps kept per image (the latest). Default 32. */
  historyPerImage?: number;
  /** Versions in the metrics chart (the latest). Default 500. */
  metricPoints?: number;
  /** Whether neighbour lists can be asked for. Default false. */
  neighbours?: boolean;
  /** Starting connection state. Default connected. */
  connection?: ConnectionState["state"];
}

interface Member {
  path?: string;
  cluster: number;
  /** Model version of `cluster`. */
  version: number;
  confidence?: number;
  history: HistoryStep[];
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot create board state: ${name} must be a positive integer, current value is ${value}`,
    );
  }
  return value;
}

/** The board's view of one stream. */
export class BoardState {
  readonly name: string;
  readonly #top: number;
  readonly #recentUpdates: number;
  readonly #movesPerUpdate: number;
  readonly #recentRefusals: number;
  readonly #historyPerImage: number;
  readonly #metricPoints: number;
  readonly #neighbours: boolean;
  readonly #members = new Map<string, Member>();
  /** Cluster id -> ids in it now, each with its last known confidence (-1 when unknown). */
  readonly #clusters: Map<string, number>[] = [];
  /**
   * Cluster id -> its grid's members beyond the exemplars, best first, kept up to date as
   * members come and go (an addition is placed in O(topPerCluster)); undefined when it must be
   * chosen again from the whole cluster (a member of it left, exemplars or a confidence changed).
   */
  readonly #best: ({ id: string; confidence: number }[] | undefined)[] = [];
  /** Cluster id -> its exemplars in the latest update, most confident first. */
  #exemplars: readonly (readonly string[])[] = [];
  #version = 0;
  #updates: UpdateSummary[] = [];
  /** Versions of the updates applied. */
  readonly #applied = new Set<number>();
  #metrics: MetricPoint[] = [];
  #refusals: RefusalEvent[] = [];
  #connection: ConnectionState;
  readonly #listeners = new Set<() => void>();
  /** The snapshot of the current state, built on the first request after a change. */
  #snapshot: BoardSnapshot | undefined;

  constructor(options: BoardStateOptions) {
    this.name = options.name;
    this.#top = positive("topPerCluster", options.topPerCluster ?? 24);
    this.#recentUpdates = positive("recentUpdates", options.recentUpdates ?? 12);
    this.#movesPerUpdate = positive("movesPerUpdate", options.movesPerUpdate ?? 4);
    this.#recentRefusals = positive("recentRefusals", options.recentRefusals ?? 12);
    this.#historyPerImage = positive("historyPerImage", options.historyPerImage ?? 32);
    this.#metricPoints = positive("metricPoints", options.metricPoints ?? 500);
    this.#neighbours = options.neighbours ?? false;
    this.#connection = {
      state: options.connection ?? "connected",
      since: new Date().toISOString(),
    };
  }

  /** Call `listener` after every change; returns the function that stops it. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    this.#snapshot = undefined;
    for (const listener of this.#listeners) listener();
  }

  #place(id: string, cluster: number): void {
    while (this.#clusters.length <= cluster) this.#clusters.push(new Map());
    const confidence = this.#members.get(id)?.confidence ?? -1;
    this.#clusters[cluster].set(id, confidence);
    const best = this.#best[cluster];
    if (best === undefined) return;
    if ((this.#exemplars[cluster] ?? []).includes(id)) {
      this.#best[cluster] = undefined;
      return;
    }
    insertBest(best, { id, confidence }, this.#needed(cluster));
  }

  #remove(id: string, cluster: number): void {
    const members = this.#clusters[cluster];
    if (members === undefined || !members.delete(id)) return;
    const best = this.#best[cluster];
    if (best?.some((b) => b.id === id) || (this.#exemplars[cluster] ?? []).includes(id)) {
      this.#best[cluster] = undefined;
    }
  }

  /** Grid places left for members beyond the cluster's exemplars. */
  #needed(cluster: number): number {
    const members = this.#clusters[cluster];
    const exemplars = (this.#exemplars[cluster] ?? []).filter((id) => members?.has(id));
    return Math.max(0, this.#top - exemplars.length);
  }

  #record(member: Member, step: HistoryStep): void {
    member.history.push(step);
    if (member.history.length > this.#historyPerImage) member.history.shift();
  }

  /** An image's first assignment. */
  applyAssignment(event: AssignmentEvent): void {
    const member = this.#members.get(event.id);
    if (member === undefined) {
      this.#members.set(event.id, {
        path: event.path,
        cluster: event.cluster,
        version: event.modelVersion,
        confidence: event.confidence,
        history: [{
          version: event.modelVersion,
          cluster: event.cluster,
          at: event.at,
          how: "assigned",
        }],
      });
      this.#place(event.id, event.cluster);
    } else {
      // A replay (a resubscription delivers from the start again) changes nothing.
      if (member.history.some((step) => step.how === "assigned")) return;
      // A move reached the board first: it is newer, so only the path and the step are added.
      member.path ??= event.path;
      if (member.confidence === undefined) {
        member.confidence = event.confidence;
        this.#clusters[member.cluster]?.set(event.id, event.confidence);
        this.#best[member.cluster] = undefined;
      }
      member.history.unshift({
        version: event.modelVersion,
        cluster: event.cluster,
        at: event.at,
        how: "assigned",
      });
      if (member.history.length > this.#historyPerImage) member.history.shift();
      if (event.modelVersion > member.version) {
        this.#remove(event.id, member.cluster);
        member.cluster = event.cluster;
        member.version = event.modelVersion;
        this.#place(event.id, event.cluster);
      }
    }
    this.#version = Math.max(this.#version, event.modelVersion);
    this.#changed();
  }

  /** A cluster update: moves, sizes, exemplars, losses, metrics. */
  applyUpdate(event: ClusterUpdateEvent): void {
    // A replay (a resubscription delivers from the start again) changes nothing.
    if (this.#applied.has(event.version)) return;
    this.#applied.add(event.version);
    for (const move of event.moved) {
      const member = this.#members.get(move.id);
      const step: HistoryStep = {
        version: event.version,
        cluster: move.to,
        at: event.at,
        how: "moved",
      };
      if (member === undefined) {
        this.#members.set(move.id, { cluster: move.to, version: event.version, history: [step] });
        this.#place(move.id, move.to);
        continue;
      }
      this.#record(member, step);
      if (event.version < member.version) continue;
      this.#remove(move.id, member.cluster);
      member.cluster = move.to;
      member.version = event.version;
      this.#place(move.id, move.to);
    }
    while (this.#clusters.length < event.sizes.length) this.#clusters.push(new Map());
    if (event.version >= this.#version) {
      this.#exemplars = event.exemplars;
      this.#best.length = 0;
    }
    this.#version = Math.max(this.#version, event.version);
    this.#updates = [{
      version: event.version,
      at: event.at,
      images: event.images,
      sizes: event.sizes,
      movedCount: event.moved.length,
      moved: event.moved.slice(0, this.#movesPerUpdate),
      losses: event.losses,
      accuracy: event.accuracy,
      nmi: event.nmi,
      ari: event.ari,
    }, ...this.#updates].sort((a, b) => b.version - a.version).slice(0, this.#recentUpdates);
    if (event.accuracy !== undefined && event.nmi !== undefined && event.ari !== undefined) {
      this.#metrics = [
        ...this.#metrics.filter((p) => p.version !== event.version),
        { version: event.version, accuracy: event.accuracy, nmi: event.nmi, ari: event.ari },
      ].sort((a, b) => a.version - b.version).slice(-this.#metricPoints);
    }
    this.#changed();
  }

  /** A refused file. */
  applyRefusal(event: RefusalEvent): void {
    if (this.#refusals.some((r) => r.path === event.path && r.at === event.at)) return;
    this.#refusals = [event, ...this.#refusals].slice(0, this.#recentRefusals);
    this.#changed();
  }

  /** The bus connection changed. */
  setConnection(state: ConnectionState["state"], detail?: string): void {
    this.#connection = { state, since: new Date().toISOString(), detail };
    this.#changed();
  }

  get connection(): ConnectionState {
    return this.#connection;
  }

  /** Image `id`'s cluster and history, or undefined when it has none yet. */
  member(id: string): MemberDetail | undefined {
    const member = this.#members.get(id);
    if (member === undefined) return undefined;
    return {
      id,
      path: member.path,
      cluster: member.cluster,
      confidence: member.confidence,
      history: member.history.slice().sort((a, b) => a.version - b.version),
    };
  }

  /** Cluster of image `id` now, or undefined. */
  clusterOf(id: string): number | undefined {
    return this.#members.get(id)?.cluster;
  }

  /**
   * What the page shows now. Built once per change and shared by every request until the next
   * one (SSE connects, `/api/snapshot`, pushes): it costs O(N) in the images, so not per request.
   * Treat it as read-only.
   */
  snapshot(): BoardSnapshot {
    this.#snapshot ??= this.#buildSnapshot();
    return this.#snapshot;
  }

  #buildSnapshot(): BoardSnapshot {
    const clusters = this.#clusters.map((ids, cluster) => ({
      cluster,
      size: ids.size,
      top: this.#topOf(cluster, ids),
    }));
    return {
      name: this.name,
      version: this.#version,
      assigned: this.#members.size,
      connection: this.#connection,
      clusters,
      updates: this.#updates,
      metrics: this.#metrics,
      refusals: this.#refusals,
      neighbours: this.#neighbours,
    };
  }

  /**
   * The cluster's thumbnails: its exemplars in the latest update first (the model's most
   * confident), then the other members by their last known confidence, ties by id.
   */
  #topOf(cluster: number, ids: ReadonlyMap<string, number>): GridImage[] {
    const exemplars = (this.#exemplars[cluster] ?? []).filter((id) => ids.has(id));
    let best = this.#best[cluster];
    if (best === undefined) {
      // Chosen again from the whole cluster: read once, the `needed` best kept sorted, O(n) in
      // practice (most members lose to the worst kept), never a sort of every member.
      const chosen = new Set(exemplars);
      const needed = Math.max(0, this.#top - exemplars.length);
      best = [];
      if (needed > 0) {
        for (const [id, confidence] of ids) {
          if (!chosen.has(id)) insertBest(best, { id, confidence }, needed);
        }
      }
      this.#best[cluster] = best;
    }
    return [
      ...exemplars.map((id) => ({ id, confidence: this.#members.get(id)?.confidence })),
      ...best,
    ]
      .slice(0, this.#top)
      .map(({ id }) => ({ id, confidence: this.#members.get(id)?.confidence }));
  }
}

/** Put `candidate` in its place in `best` (sorted, at most `limit` long), if it belongs there. */
function insertBest(
  best: { id: string; confidence: number }[],
  candidate: { id: string; confidence: number },
  limit: number,
): void {
  if (limit === 0) return;
  if (best.length >= limit && !before(candidate, best[best.length - 1])) return;
  let at = best.length;
  while (at > 0 && before(candidate, best[at - 1])) at--;
  best.splice(at, 0, candidate);
  if (best.length > limit) best.length = limit;
}

/** Grid order: more confident first, ties by id. */
function before(
  a: { id: string; confidence: number },
  b: { id: string; confidence: number },
): boolean {
  return a.confidence > b.confidence || (a.confidence === b.confidence && a.id < b.id);
}
