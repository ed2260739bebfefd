import { loadSimulatorConfig } from '../config.js';
import { createSimulator } from './index.js';

// This entry point runs the simulator on its own (`npm run simulator`), configured by the SIMULATOR_* variables.
const simulator = await createSimulator(loadSimulatorConfig(process.env));
console.log(`OpenAI simulator listening on ${simulator.url}`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    simulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
