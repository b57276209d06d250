// The part of autocannon's API the load children use (the package ships no types).
export interface AutocannonRequest {
  method?: string;
  path?: string;
  body?: string | undefined;
  headers?: Record<string, string>;
  host?: string;
}

export interface AutocannonOptions {
  url: string;
  connections: number;
  duration?: number;
  amount?: number;
  overallRate?: number;
  timeout?: number;
  method?: string;
  headers?: Record<string, string>;
  requests: { setupRequest(req: AutocannonRequest): AutocannonRequest }[];
}

export interface AutocannonResult {
  duration: number;
  requests: { total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
}

export type Autocannon = (options: AutocannonOptions) => Promise<AutocannonResult>;
