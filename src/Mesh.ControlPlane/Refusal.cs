namespace Meshd;

/// <summary>Work refused at a stated limit: the status (413, 429, 503), what was refused and why, and when to try again.</summary>
internal sealed record Refusal(int Status, string Detail, TimeSpan? RetryAfter);
