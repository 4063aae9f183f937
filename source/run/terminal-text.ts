/**
 * Text from a host (state.json, the lock's info, a server's log, a command's stderr) is not ours:
 * printed raw, an escape sequence in it could clear the operator's screen, retitle the window or
 * hide lines. Everything that reaches a terminal passes through here first.
 *
 * Kept: printable text, tabs and newlines, and SGR sequences (`ESC [ … m`: colour and weight
 * only, which our own output uses and which cannot move the cursor or hide text elsewhere).
 * Removed: every other escape sequence (CSI, OSC, DCS and the rest, with their payloads),
 * carriage returns, and the other C0 and C1 controls.
 */

// An escape and what follows it (a CSI sequence; an OSC/DCS/APC/PM/SOS string up to BEL or ST;
// a two-byte escape), the same as 8-bit C1 controls (CSI, OSC, DCS …), or a lone control
// character other than tab and newline.
const sequence =
  /\u001b(?:\[[0-?]*[ -/]*[@-~]|[\]P^_X][\s\S]*?(?:\u0007|\u001b\\|$)|[ -/]*[0-~])?|\u009b[0-?]*[ -/]*[@-~]|[\u009d\u0090\u009e\u009f\u0098][\s\S]*?(?:\u0007|\u009c|$)|[\u0000-\u0008\u000b-\u001a\u001c-\u001f\u007f-\u009f]/g;
const sgr = /^\u001b\[[0-9;:]*m$/;
const anyControl = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

export function terminalSafe(text: string): string {
  if (!anyControl.test(text)) return text;
  return text.replace(sequence, (match) => (sgr.test(match) ? match : ''));
}
