import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  /** Share of the busy (non-idle) time. */
  share: number;
}

export interface ProfileSummary {
  file: string;
  busyMs: number;
  /** Self time grouped by where the code lives: a package, a source file of ours, node internals. */
  byModule: ProfileEntry[];
  byFunction: ProfileEntry[];
}

const IDLE = new Set(['(idle)', '(root)']);

/** Where a frame's code lives: `pkg` for node_modules, `src/...` for ours, `node:...` or a V8 pseudo-frame. */
function moduleOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  const ours = /\/(src\/.+|bench\/.+)$/.exec(url);
  if (ours?.[1]) return ours[1];
  return url.startsWith('node:') ? url : url.replace(/^file:\/\//, '');
}

function top(selfByKey: Map<string, number>, busyMs: number, count: number): ProfileEntry[] {
  return [...selfByKey.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, selfMs]) => ({ name, selfMs: Math.round(selfMs), share: selfMs / busyMs }));
}

/**
 * Self time of the main thread's profile in `dir`, grouped by module and by function. Node writes one profile per
 * thread (`CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`); tsx's module loader has a thread of its own.
 */
export function summarizeProfile(dir: string, count = 15): ProfileSummary {
  const file = readdirSync(dir).find((name) => /\.\d+\.0\.\d+\.cpuprofile$/.test(name));
  if (!file) throw new Error(`no main-thread .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byModule = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busyMs = 0;
  profile.samples.forEach((id, index) => {
    const frame = nodes.get(id)?.callFrame;
    const ms = (profile.timeDeltas[index] ?? 0) / 1000;
    if (!frame || IDLE.has(frame.functionName)) return;
    busyMs += ms;
    const module = moduleOf(frame);
    byModule.set(module, (byModule.get(module) ?? 0) + ms);
    const name = `${frame.functionName || '(anonymous)'} ${module}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
  });
  return {
    file: join(dir, file),
    busyMs: Math.round(busyMs),
    byModule: top(byModule, busyMs, count),
    byFunction: top(byFunction, busyMs, count),
  };
}
