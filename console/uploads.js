// An operator's file, stored for a chat the way the CLI stores one (cli/client.py upload_file): up to
// INLINE_MAX_BYTES the bytes go base64 in the JSON body of POST /admin/chats/{id}/files (one request, the same
// behind API Gateway and on the local stack); a larger file is announced by its size, and the bytes are PUT to
// the presigned S3 URL the API answers, with exactly the headers it lists (the URL carries its own signature,
// so that PUT is never SigV4-signed again). What is accepted (types, sizes, first bytes) is the API's to say:
// a refusal is an ApiError whose reason the page shows as it is.

import {ApiError} from './api.js';

export const INLINE_MAX_BYTES = 4 * 1024 * 1024;  // media/uploads.py INLINE_MAX_BYTES
// headers a page may not set (the browser sends Content-Length itself, from the body)
const FORBIDDEN_HEADERS = new Set(['content-length', 'host', 'connection']);

function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).slice(String(reader.result).indexOf(',') + 1));
    reader.onerror = () => reject(new ApiError(0, {reason: `cannot read ${file.name}: ${reader.error?.message || 'unreadable'}`},
                                               'READ', file.name));
    reader.readAsDataURL(file);
  });
}

/** Store `file` for chat `chatId`; returns the API's `file` (id, url, name, type, kind, size). */
export async function uploadFile(api, chatId, file, fetchFn = (url, init) => fetch(url, init)) {
  const path = `admin/chats/${chatId}/files`;
  const described = {name: file.name, type: file.type || null};
  if (file.size <= INLINE_MAX_BYTES) {
    return (await api.post(path, {...described, content_base64: await base64Of(file)})).file;
  }
  const answer = await api.post(path, {...described, size: file.size});
  const {url, method = 'PUT', headers = {}} = answer.upload;
  const sent = Object.fromEntries(Object.entries(headers).filter(([name]) => !FORBIDDEN_HEADERS.has(name.toLowerCase())));
  let response;
  try {
    response = await fetchFn(url, {method, headers: sent, body: file});
  } catch (error) {
    throw new ApiError(0, {reason: `cannot reach the file storage to upload: ${error.message}`}, method, 'upload');
  }
  if (!response.ok) {
    const text = (await response.text()).trim().slice(0, 300);
    throw new ApiError(response.status, {reason: `the file storage refused the upload (HTTP ${response.status}): ${text}`},
                       method, 'upload');
  }
  return answer.file;
}

/** 1.2 MB, 340 kB, 12 bytes: a file's size as the operator reads it. */
export function sizeText(bytes) {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1000) return `${bytes} bytes`;
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(bytes < 10_000 ? 1 : 0)} kB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}
