export { SimulatorClient } from './client.js';
export { createSimulator, Simulator } from './server.js';
export {
  type Fault,
  faultSchema,
  type Latency,
  type ListedRequest,
  type SimulatedRequest,
  type SimulatedRequestStatus,
  type SimulatorEvent,
  type SimulatorOptions,
} from './types.js';
