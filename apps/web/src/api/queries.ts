import { useQuery } from '@tanstack/react-query';
import { api, toServerError } from './client';

export function useHealth() {
  return useQuery({
    queryKey: ['healthz'],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/healthz');
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    refetchInterval: 5000,
    retry: false,
  });
}

export function useMeta() {
  return useQuery({
    queryKey: ['meta'],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/meta');
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    refetchInterval: 15000,
  });
}
