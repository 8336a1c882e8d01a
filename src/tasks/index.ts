import type { TaskName } from '../models/spec.js';
import { imageClassification } from './image-classification.js';
import { imageClassificationOip } from './oip-image-classification.js';
import { tabularRegressionOip } from './oip-tabular-regression.js';
import type { OipCodec } from './oip-tensors.js';
import { textClassificationOip } from './oip-text-classification.js';
import { tabularRegression } from './tabular-regression.js';
import { textClassification } from './text-classification.js';
import type { TaskDefinition } from './types.js';

/** Every task this server can load, by the name model specs use. */
const TASKS: Partial<Record<TaskName, TaskDefinition>> = {
  'text-classification': textClassification as TaskDefinition,
  'image-classification': imageClassification as TaskDefinition,
  'tabular-regression': tabularRegression as TaskDefinition,
};

/** Open Inference Protocol codecs for tasks whose definition does not carry its own `oip`. */
const OIP_CODECS: Partial<Record<TaskName, OipCodec>> = {
  'text-classification': textClassificationOip as OipCodec,
  'image-classification': imageClassificationOip as OipCodec,
  'tabular-regression': tabularRegressionOip as OipCodec,
};

/** How models of a task are served over /v2; undefined when the task has no tensor form. */
export function oipCodecFor(name: TaskName): OipCodec | undefined {
  return TASKS[name]?.oip ?? OIP_CODECS[name];
}

export function taskFor(name: TaskName): TaskDefinition {
  const task = TASKS[name];
  if (!task) throw new Error(`task "${name}" is not supported by this server`);
  return task;
}

export function supportedTasks(): TaskName[] {
  return Object.keys(TASKS) as TaskName[];
}
