import { useEffect, useState } from 'react';
import { useStore } from 'zustand';
import { EncoderClient, type EncoderStatus } from './client';

let shared: EncoderClient | null = null;

/** One encoder worker per tab, created on first use (the model is fetched once). */
export function useEncoder(): [EncoderClient, EncoderStatus] {
  const [client] = useState(() => (shared ??= new EncoderClient()));
  // A page (or a new teleop session) starts without the errors of prompts drawn elsewhere.
  useEffect(() => client.clearRequestError(), [client]);
  const status = useStore(client.status);
  return [client, status];
}

/** Re-encodes whenever `key` (a serialisation of the prompts) changes; latest wins. */
export function useLiveEncode(
  client: EncoderClient,
  prompts: () => Parameters<EncoderClient['encode']>[0],
  key: string,
): void {
  useEffect(() => {
    client.encode(prompts()).catch(() => {
      /* surfaced through the status store */
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, key]);
}
