namespace LabelLens.Application;

/// <summary>How one run of a labeling job ended.</summary>
public enum JobOutcome
{
    /// <summary>The result is stored.</summary>
    Labeled,

    /// <summary>The job no longer counted (new bytes, a delete, a lost lease): its result was dropped.</summary>
    Superseded,

    /// <summary>Stopped on request (a video's cancel).</summary>
    Cancelled,

    /// <summary>The input itself is unusable (not an image, over a limit): failed for good, with the reason.</summary>
    Rejected,

    /// <summary>Something else failed: the job is retried with backoff.</summary>
    Error,
}

public static class JobOutcomes
{
    /// <summary>"labeled", "superseded"...: how metrics and the CLI's summary name an outcome.</summary>
    public static string Name(this JobOutcome outcome) => outcome switch
    {
        JobOutcome.Labeled => "labeled",
        JobOutcome.Superseded => "superseded",
        JobOutcome.Cancelled => "cancelled",
        JobOutcome.Rejected => "rejected",
        JobOutcome.Error => "error",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };

    /// <summary>Whether the job's image ended without labels because of this run (the CLI's exit code).</summary>
    public static bool IsFailure(this JobOutcome outcome) => outcome is JobOutcome.Rejected or JobOutcome.Error;
}
