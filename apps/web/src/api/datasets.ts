// Dataset queries: the catalog, episodes, frames (JPEG URLs) and annotation versions.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Schemas, toServerError } from './client';

export type DatasetSummary = Schemas['DatasetSummary'];
export type EpisodeData = Schemas['EpisodeData'];
export type AnnotationCreate = Schemas['AnnotationCreate'];

export function frameUrl(dataset: string, episode: number, t: number, camera: string): string {
  return `/v1/datasets/${encodeURIComponent(dataset)}/episodes/${episode}/frames/${t}?camera=${encodeURIComponent(camera)}`;
}

export function useDatasets() {
  return useQuery({
    queryKey: ['datasets'],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/datasets');
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    refetchInterval: 10_000,
  });
}

export function useEpisodes(dataset: string | null) {
  return useQuery({
    queryKey: ['episodes', dataset],
    enabled: dataset !== null,
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/datasets/{dataset_id}/episodes', {
        params: { path: { dataset_id: dataset! } },
      });
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data.episodes;
    },
  });
}

export function useEpisode(dataset: string | null, index: number | null) {
  return useQuery({
    queryKey: ['episode', dataset, index],
    enabled: dataset !== null && index !== null,
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/datasets/{dataset_id}/episodes/{index}', {
        params: { path: { dataset_id: dataset!, index: index! } },
      });
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
  });
}

export function useAnnotations(dataset: string | null, index: number | null) {
  return useQuery({
    queryKey: ['annotations', dataset, index],
    enabled: dataset !== null && index !== null,
    queryFn: async () => {
      const { data, error, response } = await api.GET(
        '/v1/datasets/{dataset_id}/episodes/{index}/annotations',
        {
          params: { path: { dataset_id: dataset!, index: index! } },
        },
      );
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
  });
}

export function useSaveAnnotation(dataset: string | null, index: number | null) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: AnnotationCreate) => {
      const { data, error, response } = await api.POST(
        '/v1/datasets/{dataset_id}/episodes/{index}/annotations',
        {
          params: { path: { dataset_id: dataset!, index: index! } },
          body,
        },
      );
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ['annotations', dataset, index] }),
  });
}

/** Loads an image URL into an HTMLImageElement (null while loading or on error). */
export async function loadImage(url: string): Promise<HTMLImageElement> {
  const img = new Image();
  img.decoding = 'async';
  img.src = url;
  await img.decode();
  return img;
}
