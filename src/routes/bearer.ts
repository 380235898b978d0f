/** The token of an `Authorization: Bearer <token>` header, or undefined when there is none. */
export function bearerToken(header: string | undefined): string | undefined {
  return (typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null)?.[1];
}
