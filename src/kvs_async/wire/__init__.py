"""HTTP/1.1 response bodies read off the socket by our own code (GetMedia's zero-copy path).

`chunked` is the sans-I/O body decoder (chunked transfer coding, Content-Length, read to EOF);
`takeover` moves a streaming response's connection from aiohttp's parser to a protocol of ours
once the head is in, so body bytes reach the MKV parser as the very objects the socket returned.
"""
