import type { RuntimeName, TaskName } from '../models/spec.js';
import { imageClassification } from './image-classification.js';
import { imageClassificationOip } from './oip-image-classification.js';
import { tabularRegressionOip } from './oip-tabular-regression.js';
import type { OipCodec } from './oip-tensors.js';
import { textClassificationOip } from './oip-text-classification.js';
import { textGenerationOip } from './oip-text-generation.js';
import { tabularRegression } from './tabular-regression.js';
import { textClassification } from './text-classification.js';
import { remoteTextClassification } from './remote-classification.js';
import { textGeneration } from './text-generation.js';
import type { TaskDefinition } from './types.js';

/** Every task this server can load, by the name model specs use. */
const TASKS: Partial<Record<TaskName, TaskDefinition>> = {
  'text-classification': textClassification as TaskDefinition,
  'image-classification': imageClassification as TaskDefinition,
  'tabular-regression': tabularRegression as TaskDefinition,
  'text-generation': textGeneration as TaskDefinition,
};

/** Tasks whose remote-runtime models load differently from their local ones (same request and answer). */
const REMOTE_TASKS: Partial<Record<TaskName, TaskDefinition>> = {
  'text-classification': remoteTextClassification as TaskDefinition,
};

/** How each task speaks the Open Inference Protocol (src/tasks/oip-*.ts). */
const OIP_CODECS: Partial<Record<TaskName, OipCodec>> = {
  'text-classification': textClassificationOip as OipCodec,
  'image-classification': imageClassificationOip as OipCodec,
  'tabular-regression': tabularRegressionOip as OipCodec,
  'text-generation': textGenerationOip as OipCodec,
};

/** How models of a task are served over /v2; undefined when the task has no tensor form. */
export function oipCodecFor(name: TaskName): OipCodec | undefined {
  return OIP_CODECS[name];
}

export function taskFor(name: TaskName, runtime?: RuntimeName): TaskDefinition {
  const task = (runtime === 'remote' ? REMOTE_TASKS[name] : undefined) ?? TASKS[name];
  if (!task) throw new Error(`task "${name}" is not supported by this server`);
  return task;
}
