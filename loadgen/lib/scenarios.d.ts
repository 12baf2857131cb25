// Types of scenarios.js for the TypeScript side (loadgen/run.ts, demo/demo.ts, the tests).
export type Env = Record<string, string | undefined>;

export declare const SCENARIOS: Readonly<Record<string, string>>;
export declare const SCENARIO_NAMES: readonly string[];
export declare const DEFAULT_ERROR_SHARE: number;
export declare const SLOW_RESPONSE_MS: number;
export declare function isScenarioName(name: string): boolean;
export declare function unknownScenarioMessage(name: string): string;
export declare function numberFromEnv(env: Env, name: string, fallback: number, limits?: { integer?: boolean; min?: number; max?: number }): number;
export declare function setupWaitFromEnv(env: Env, scenario: string): number;
export declare function durationFromEnv(env: Env, name: string, fallback: string): string;
export declare function scenarioFor(name: string, env: Env): Record<string, unknown>;
export declare function thresholdsFor(name: string): Record<string, unknown[]>;
