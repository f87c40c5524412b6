/**
 * The one place the stage trainers are built from a config: each trainer's options come from the
 * config's slice for its stage, and its generator from a named random stream of the run (see
 * `RandomStreams`), so the offline run and the stream cannot build the same stage two ways.
 */
import { augmentationOf, type ScanConfig } from "../config.ts";
import type { ClusteringModel, ContrastiveModel } from "../stages/models.ts";
import { PretextTrainer } from "../stages/pretext.ts";
import { ScanTrainer } from "../stages/scan.ts";
import { SelfLabelTrainer } from "../stages/selflabel.ts";
import { type RandomStreamName, RandomStreams } from "../util/random_streams.ts";

/** Where a trainer's generator starts: a named stream at a position (epoch or round). */
export interface StreamAt {
  /** Defaults to the offline run's stream for the stage (e.g. "pretext.augment"). */
  readonly stream?: RandomStreamName;
  /** The epoch or round the trainer starts at; 0 when omitted. */
  readonly position?: number;
}

/** Builds the trainers of the paper's stages for one run's config and seed. */
export class StageTrainers {
  readonly config: ScanConfig;
  readonly streams: RandomStreams;

  constructor(config: ScanConfig, streams: RandomStreams = new RandomStreams(config.seed)) {
    this.config = config;
    this.streams = streams;
  }

  /** Stage 1, pretext (SimCLR): NT-Xent on two weak views of each image. */
  pretext(model: ContrastiveModel, at: StreamAt = {}): PretextTrainer {
    const { config } = this;
    return new PretextTrainer(
      model,
      {
        learningRate: config.pretext.learningRate,
        temperature: config.temperature,
        augmentation: augmentationOf(config),
      },
      this.streams.random(at.stream ?? "pretext.augment", at.position),
    );
  }

  /** Stage 2, SCAN: consistency with mined neighbours plus entropy, strong views. */
  scan(model: ClusteringModel, at: StreamAt = {}): ScanTrainer {
    const { config } = this;
    return new ScanTrainer(
      model,
      {
        learningRate: config.scan.learningRate,
        entropyWeight: config.entropyWeight,
        augment: true,
        augmentation: augmentationOf(config),
      },
      this.streams.random(at.stream ?? "scan.augment", at.position),
    );
  }

  /**
   * Stage 3, self-labelling of SCAN's kept `head`; `headOnly` trains that head alone on frozen
   * backbone features (the stream, where the backbone belongs to the pretext task).
   */
  selflabel(
    model: ClusteringModel,
    head: number,
    at: StreamAt & { readonly headOnly?: boolean } = {},
  ): SelfLabelTrainer {
    const { config } = this;
    return new SelfLabelTrainer(
      model,
      {
        learningRate: config.selflabel.learningRate,
        threshold: config.confidenceThreshold,
        head,
        augmentation: augmentationOf(config),
        headOnly: at.headOnly,
      },
      this.streams.random(at.stream ?? "selflabel.augment", at.position),
    );
  }
}
