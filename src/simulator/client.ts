import type { Fault, Latency, ListedRequest } from './types.js';

/** Drives a simulator in another process through its `/_simulator/*` control API. */
export class SimulatorClient {
  private readonly root: string;

  /** `url` is the simulator's base URL, with or without the trailing `/v1`. */
  constructor(url: string) {
    this.root = url.replace(/\/+$/, '').replace(/\/v1$/, '');
  }

  async injectFault(fault: Fault, times = 1): Promise<void> {
    await this.call('POST', '/_simulator/faults', { fault, times });
  }

  async clearFaults(): Promise<void> {
    await this.call('DELETE', '/_simulator/faults');
  }

  async setLatency(latency: Latency): Promise<void> {
    await this.call('POST', '/_simulator/latency', latency);
  }

  /** Leaves `usage` out of every response (JSON and streams) while `omit` is true. */
  async setOmitUsage(omit: boolean): Promise<void> {
    await this.call('POST', '/_simulator/usage', { omit });
  }

  /** The request log; bodies over 16 KiB are left out. */
  async requests(): Promise<ListedRequest[]> {
    const response = await this.call('GET', '/_simulator/requests');
    return ((await response.json()) as { data: ListedRequest[] }).data;
  }

  async clearRequests(): Promise<void> {
    await this.call('DELETE', '/_simulator/requests');
  }

  private async call(method: string, path: string, body?: unknown): Promise<Response> {
    const response = await fetch(`${this.root}${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok)
      throw new Error(
        `Simulator control ${method} ${path} failed: ${response.status} ${await response.text()}`,
      );
    return response;
  }
}
