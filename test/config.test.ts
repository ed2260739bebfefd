import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadSimulatorConfig } from '../src/config.js';

describe('configuration', () => {
  it('runs in development mode without keys on loopback', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      HOST: '127.0.0.1',
      PORT: 4000,
      devMode: true,
      OPENAI_MODEL: 'gpt-4.1-mini',
    });
  });

  it('refuses to listen on a public address without API keys', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(/Refusing to listen on 0.0.0.0 without API keys/);
  });

  it('accepts a public address with API keys, parsing principals and scopes', () => {
    const config = loadConfig({ HOST: '0.0.0.0', API_KEYS: 'alice:sk-alice-123456:admin,bob:sk-bob-654321' });
    expect(config.devMode).toBe(false);
    expect(config.API_KEYS).toEqual([
      { principal: 'alice', key: 'sk-alice-123456', scopes: ['admin'] },
      { principal: 'bob', key: 'sk-bob-654321', scopes: [] },
    ]);
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ OPENAI_TEMPERATURE: '5' })).toThrow(ConfigError);
    expect(() => loadConfig({ OPENAI_TEMPERATURE: '5' })).toThrow(/OPENAI_TEMPERATURE/);
    expect(() => loadConfig({ API_KEYS: 'nokey' })).toThrow(/API_KEYS/);
  });

  it('reads the models an upstream serves and the token-limit parameter for other servers', () => {
    const config = loadConfig({
      OPENAI_MODELS: ' llama3.1:8b , qwen2.5:7b ',
      OPENAI_TOKEN_LIMIT_PARAM: 'max_tokens',
    });
    expect(config.OPENAI_MODELS).toEqual(['llama3.1:8b', 'qwen2.5:7b']);
    expect(config.OPENAI_TOKEN_LIMIT_PARAM).toBe('max_tokens');
    expect(loadConfig({}).OPENAI_TOKEN_LIMIT_PARAM).toBe('auto');
    expect(() => loadConfig({ OPENAI_TOKEN_LIMIT_PARAM: 'n_predict' })).toThrow(/OPENAI_TOKEN_LIMIT_PARAM/);
  });

  it('takes model-table entries with capabilities and refuses an unknown reasoning effort', () => {
    const entry = {
      id: 'my-o3-deployment',
      contextWindow: 200_000,
      maxOutputTokens: 100_000,
      encoding: 'o200k_base',
      inputUsdPerMillion: 2,
      cachedInputUsdPerMillion: 0.5,
      outputUsdPerMillion: 8,
      reasoningEfforts: ['low', 'medium', 'high'],
      tokenLimitParameter: 'max_completion_tokens',
    };
    expect(loadConfig({ MODEL_TABLE_JSON: JSON.stringify([entry]) }).MODEL_TABLE_JSON).toEqual([entry]);
    expect(() =>
      loadConfig({ MODEL_TABLE_JSON: JSON.stringify([{ ...entry, reasoningEfforts: ['extreme'] }]) }),
    ).toThrow(/MODEL_TABLE_JSON/);
  });

  it("reads each model's fallback models in order", () => {
    const config = loadConfig({ FALLBACK_MODELS: 'gpt-4o=gpt-4o-mini|gpt-4.1-mini, o3 = o4-mini ' });
    expect(config.FALLBACK_MODELS).toEqual({ 'gpt-4o': ['gpt-4o-mini', 'gpt-4.1-mini'], o3: ['o4-mini'] });
    expect(loadConfig({}).FALLBACK_MODELS).toEqual({});
  });

  it.each([
    ['no fallback', 'gpt-4o', /expected model=fallback/],
    ['an empty fallback', 'gpt-4o=gpt-4o-mini|', /expected model=fallback/],
    ['two equals signs', 'gpt-4o=gpt-4o-mini=o3', /expected model=fallback/],
    ['a name with a space', 'gpt-4o=gpt 4o', /expected model=fallback/],
    ['more than 4 fallbacks', 'a=b|c|d|e|f', /at most 4 fallbacks/],
    ['a model twice in one entry', 'gpt-4o=gpt-4o-mini|gpt-4o', /names a model twice/],
    ['two entries for one model', 'gpt-4o=gpt-4o-mini,gpt-4o=o3', /gpt-4o has two entries/],
  ])('refuses FALLBACK_MODELS with %s', (_case, value, message) => {
    expect(() => loadConfig({ FALLBACK_MODELS: value })).toThrow(/FALLBACK_MODELS/);
    expect(() => loadConfig({ FALLBACK_MODELS: value })).toThrow(message);
  });

  it('keeps traces off unless an OTLP endpoint or OTEL_TRACES_EXPORTER=otlp is set, and off with none', () => {
    expect(loadConfig({}).tracing).toBeNull();
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }).tracing?.url).toBe('http://localhost:4318/v1/traces');
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(loadConfig(endpoint).tracing).not.toBeNull();
    expect(loadConfig({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeNull();
    expect(loadConfig({ ...endpoint, OTEL_SDK_DISABLED: 'true' }).tracing).toBeNull();
  });

  it('sends traces to <endpoint>/v1/traces or the traces endpoint as given, as agent-platform by default', () => {
    const general = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example.com/otlp/' }).tracing;
    expect(general).toMatchObject({
      url: 'https://otel.example.com/otlp/v1/traces',
      protocol: 'http/protobuf',
      serviceName: 'agent-platform',
      captureContent: false,
    });
    const specific = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example.com',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/ingest',
      OTEL_SERVICE_NAME: 'agents-eu',
    }).tracing;
    expect(specific).toMatchObject({ url: 'https://traces.example.com/ingest', serviceName: 'agents-eu' });
  });

  it('reads OTLP headers percent-decoded, the signal-specific ones winning, and refuses gRPC', () => {
    const tracing = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Basic%20cGs6c2s=,x-tenant=a',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=b',
    }).tracing;
    expect(tracing?.headers).toEqual({ Authorization: 'Basic cGs6c2s=', 'x-tenant': 'b' });
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign' })).toThrow(
      /OTEL_EXPORTER_OTLP_HEADERS/,
    );
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/grpc is not supported/);
  });
});

describe('simulator configuration', () => {
  it('listens on 127.0.0.1:4010 with no latency and usage sent when nothing is set', () => {
    expect(loadSimulatorConfig({ SIMULATOR_PORT: '', SIMULATOR_HOST: ' ' })).toEqual({
      port: 4010,
      host: '127.0.0.1',
      omitUsage: false,
    });
  });

  it('reads port, host, latency, reply words and the usage switch', () => {
    const config = loadSimulatorConfig({
      SIMULATOR_PORT: '0',
      SIMULATOR_HOST: '::1',
      SIMULATOR_FIRST_TOKEN_MS: '250',
      SIMULATOR_CHUNK_DELAY_MS: '2.5',
      SIMULATOR_REPLY_WORDS: '50',
      SIMULATOR_OMIT_USAGE: 'true',
    });
    expect(config).toEqual({
      port: 0,
      host: '::1',
      firstTokenMs: 250,
      chunkDelayMs: 2.5,
      replyWords: 50,
      omitUsage: true,
    });
  });

  it('names the simulator variable that is wrong', () => {
    expect(() => loadSimulatorConfig({ SIMULATOR_CHUNK_DELAY_MS: '-1' })).toThrow(/SIMULATOR_CHUNK_DELAY_MS/);
    expect(() => loadSimulatorConfig({ SIMULATOR_PORT: 'http' })).toThrow(/SIMULATOR_PORT/);
    expect(() => loadSimulatorConfig({ SIMULATOR_OMIT_USAGE: 'yes' })).toThrow(/SIMULATOR_OMIT_USAGE/);
  });
});
