/**
 * A text with the password of every URL in it (`scheme://user:password@host`) replaced by
 * `***`: for messages and start-up lines that name a database URL, which may carry one.
 */
export function hideUrlPasswords(text: string): string {
  return text.replace(/(\/\/[^:/@\s]*:)[^@/\s]*@/g, '$1***@');
}
