/**
 * The first message of a conversation that replaces another (lost, or reset because its context
 * filled up): the recap of the last exchanges, then the new prompt. It is part of the new
 * conversation's transcript, so later resumes keep it.
 */
export function withRecap(recap: string, prompt: string): string {
  return recap ? `${recap}\n\n${prompt}` : prompt;
}
