// One problem found in the stack config: its config path and a full-sentence message saying what
// was given and what to use instead. Every check of the config returns a list of these.
export interface ConfigProblem {
    readonly path: string;
    readonly message: string;
}
