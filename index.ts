// Entry point for the Pulumi engine: the stack's role (config `ai-dualstack:role`) picks the program. Exported as a
// function so the engine starts and awaits it (an exported promise would be rejected before anyone listens).
import { runProgram } from "./program";

export = () => runProgram();
