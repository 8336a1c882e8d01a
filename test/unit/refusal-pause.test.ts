import { describe, expect, it } from 'vitest';
import { RefusalPause } from '../../src/http/refusal-pause.js';

describe('RefusalPause.pauseFor', () => {
  it('holds a refused connection for the setting, never longer than the Retry-After just given', () => {
    expect(new RefusalPause(1000).pauseFor(1)).toBe(1000);
    expect(new RefusalPause(1000).pauseFor(30)).toBe(1000);
    expect(new RefusalPause(5000).pauseFor(2)).toBe(2000);
    expect(new RefusalPause(250).pauseFor(1)).toBe(250);
  });

  it('holds nothing with 0, or once released for the drain', () => {
    expect(new RefusalPause(0).pauseFor(5)).toBe(0);
    const pause = new RefusalPause(1000);
    pause.release();
    expect(pause.pauseFor(1)).toBe(0);
    expect(pause.heldConnections).toBe(0);
  });
});
