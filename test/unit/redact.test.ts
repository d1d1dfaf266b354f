// redactUrl: the signed query parameters of storage redirects (S3, Azure Blob, CloudFront, GCS)
// and userinfo never reach a log line or an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactUrl } from '../../src/redact.js';

test('redactUrl hides userinfo and the signature parameters of every storage a registry redirects to', () => {
  const cases: [string, string][] = [
    ['https://u:p@reg.example/v2/', 'https://***@reg.example/v2/'],
    ['https://s3.example/b?X-Amz-Credential=AK%2F1&X-Amz-Signature=abc&x=1', 'https://s3.example/b?X-Amz-Credential=***&X-Amz-Signature=***&x=1'],
    ['https://acct.blob.core.windows.net/c?sv=2021&se=2026&sp=r&sig=abc', 'https://acct.blob.core.windows.net/c?sv=***&se=***&sp=***&sig=***'],
    ['https://d1.cloudfront.net/b?Expires=1&Signature=abc&Key-Pair-Id=K1', 'https://d1.cloudfront.net/b?Expires=***&Signature=***&Key-Pair-Id=***'],
    // Google Cloud Storage V4 signed URLs (Artifact Registry downloads).
    ['https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa%40p.iam&X-Goog-Signature=abc123', 'https://storage.googleapis.com/b/o?X-Goog-Algorithm=***&X-Goog-Credential=***&X-Goog-Signature=***'],
  ];
  for (const [url, want] of cases) assert.equal(redactUrl(url), want, url);
});
