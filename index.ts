// Entry point for the Pulumi engine: the stack's role (config `ai-dualstack:role`) picks the program.
import { runProgram } from "./program";

export = runProgram();
