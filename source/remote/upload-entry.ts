/** One entry of a tree upload. Paths are relative to the upload root, '/'-separated, names as file-names.ts keeps them. */
export type UploadEntry =
  | { readonly kind: 'dir'; readonly path: string; readonly mode: number }
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly mode: number;
      readonly size: number;
      /** Absolute local path to send. */
      readonly localPath: string;
      /** When given, the bytes read for the upload must hash to this, or the upload fails naming the file. */
      readonly sha256?: string;
    }
  | {
      /** Bytes made by mcp-deploy itself (the release's own records). */
      readonly kind: 'data';
      readonly path: string;
      readonly mode: number;
      readonly data: Buffer;
      /**
       * A file on the host that holds `bytes` (an earlier version of `data`): when both ends have
       * zstd, only the difference travels (zstd with that file as its dictionary), and the host
       * rebuilds `data` from it.
       */
      readonly patchFrom?: { readonly hostPath: string; readonly bytes: Buffer };
    }
  | {
      /** An unchanged file: hard-linked from a file already on the host, no bytes cross the wire. */
      readonly kind: 'link';
      readonly path: string;
      readonly mode: number;
      readonly size: number;
      /** Absolute path on the host of the identical file to link; it must be beside the upload root (a sibling tree). */
      readonly from: string;
    }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string };

export type UploadProgress = {
  readonly filesDone: number;
  readonly filesTotal: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
};
