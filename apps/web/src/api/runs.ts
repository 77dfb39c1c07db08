import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Schemas, toServerError } from './client';

export type Run = Schemas['Run'];
export type RunCreate = Schemas['RunCreate'];
export type EvalResult = Schemas['EvalResult'];

export function useRuns() {
  return useQuery({
    queryKey: ['runs'],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/runs');
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data.runs;
    },
    refetchInterval: 2000,
  });
}

export function useModels() {
  return useQuery({
    queryKey: ['models'],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/models');
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    refetchInterval: 5000,
  });
}

export type RunStage = RunCreate['stage'];

/** The launch form's fields for a stage, published by the server (TrainConfig / EvalConfig). */
export function useConfigSchema(stage: RunStage) {
  return useQuery({
    queryKey: ['config-schema', stage],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/runs/config-schema', {
        params: { query: { stage } },
      });
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    staleTime: Infinity,
  });
}

export function useRunLogs(id: string | null, live: boolean) {
  return useQuery({
    queryKey: ['run-logs', id],
    enabled: id !== null,
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/runs/{run_id}/logs', {
        params: { path: { run_id: id! }, query: { tail: 300 } },
      });
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data.lines;
    },
    refetchInterval: live ? 1500 : false,
  });
}

type MetricsData = { records: Record<string, unknown>[]; offset: number };

/** One metrics query: all records of a run, polled while it runs (incrementally, by offset). */
function metricsQuery(id: string, live: boolean) {
  return {
    queryKey: ['run-metrics', id],
    queryFn: async ({
      client,
      queryKey,
    }: {
      client: ReturnType<typeof useQueryClient>;
      queryKey: readonly unknown[];
    }): Promise<MetricsData> => {
      const prev = client.getQueryData<MetricsData>(queryKey);
      const { data, error, response } = await api.GET('/v1/runs/{run_id}/metrics', {
        params: { path: { run_id: id }, query: { offset: prev?.offset ?? 0, limit: 10000 } },
      });
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return { records: [...(prev?.records ?? []), ...data.records], offset: data.next_offset };
    },
    refetchInterval: live ? 1000 : (false as const),
  };
}

export function useRunMetrics(id: string, live: boolean) {
  return useQuery(metricsQuery(id, live));
}

/** Metrics of any number of runs at once (the compare view). */
export function useManyRunMetrics(runs: readonly { id: string; live: boolean }[]) {
  return useQueries({ queries: runs.map((r) => metricsQuery(r.id, r.live)) });
}

/** One run by id (the status bar names a deployed run by it); null when it no longer exists. */
export function useRun(id: string | null) {
  return useQuery({
    queryKey: ['run', id],
    enabled: id !== null,
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/runs/{run_id}', {
        params: { path: { run_id: id! } },
      });
      if (response.status === 404) return null;
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    staleTime: 30_000,
  });
}

/** An eval run's results (eval.json through GET /v1/runs/{id}/eval); null until it is written. */
export function useRunEval(id: string, enabled: boolean, live: boolean) {
  return useQuery({
    queryKey: ['run-eval', id, live], // live -> done is a new fetch: the last poll may predate eval.json
    enabled,
    queryFn: async (): Promise<EvalResult | null> => {
      const { data, error, response } = await api.GET('/v1/runs/{run_id}/eval', {
        params: { path: { run_id: id } },
      });
      if (
        response.status === 404 &&
        (error as { error?: { code?: string } } | undefined)?.error?.code === 'no_eval_result'
      )
        return null;
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    refetchInterval: live ? 2000 : false,
  });
}

export function useDeleteRun() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (id: string) => {
      const { error, response } = await api.DELETE('/v1/runs/{run_id}', { params: { path: { run_id: id } } });
      if (error !== undefined || !response.ok) throw toServerError(response.status, error);
      return id;
    },
    onSuccess: (id) => {
      qc.removeQueries({ queryKey: ['run-metrics', id] });
      qc.removeQueries({ queryKey: ['run-eval', id] });
      return qc.invalidateQueries({ queryKey: ['runs'] });
    },
  });
}

function useRunAction(path: '/v1/runs/{run_id}/cancel' | '/v1/runs/{run_id}/resume') {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (id: string) => {
      const { data, error, response } = await api.POST(path, { params: { path: { run_id: id } } });
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ['runs'] }),
  });
}

export const useCancelRun = () => useRunAction('/v1/runs/{run_id}/cancel');
export const useResumeRun = () => useRunAction('/v1/runs/{run_id}/resume');

export function useCreateRun() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: RunCreate) => {
      const { data, error, response } = await api.POST('/v1/runs', { body });
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ['runs'] }),
  });
}

/** A mutation that changes the served model: afterwards the model list and /v1/meta are refetched. */
function useServedModelChange<T>(post: (arg: string) => Promise<T>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: post,
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['models'] });
      void qc.invalidateQueries({ queryKey: ['meta'] });
    },
  });
}

/** Hot-swap the served policy to a bundle of the model registry. */
export const useLoadModel = () =>
  useServedModelChange(async (modelId: string) => {
    const { data, error, response } = await api.POST('/v1/models/{model_id}/load', {
      params: { path: { model_id: modelId } },
    });
    if (error !== undefined || data === undefined) throw toServerError(response.status, error);
    return data;
  });

/** Add a finished run's bundle to the model registry (as `run-<id>`) and serve it. */
export const useDeployRun = () =>
  useServedModelChange(async (runId: string) => {
    const { data, error, response } = await api.POST('/v1/runs/{run_id}/deploy', {
      params: { path: { run_id: runId } },
    });
    if (error !== undefined || data === undefined) throw toServerError(response.status, error);
    return data;
  });
