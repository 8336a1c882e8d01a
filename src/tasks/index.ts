import type { TaskName } from '../models/spec.js';
import { textClassification } from './text-classification.js';
import type { TaskDefinition } from './types.js';

/** Every task this server can load, by the name model specs use. */
const TASKS: Partial<Record<TaskName, TaskDefinition>> = {
  'text-classification': textClassification as TaskDefinition,
};

export function taskFor(name: TaskName): TaskDefinition {
  const task = TASKS[name];
  if (!task) throw new Error(`task "${name}" is not supported by this server`);
  return task;
}

export function supportedTasks(): TaskName[] {
  return Object.keys(TASKS) as TaskName[];
}
