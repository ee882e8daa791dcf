namespace Depot.Core.Errors;

/// <summary>An expected failure of an operation: a stable <see cref="Code"/> and a message for people.</summary>
/// <remarks>Expected outcomes (not found, conflict, bad input) travel as values; only infrastructure
/// failures throw. The server turns a <see cref="DepotError"/> into problem+json in one place.</remarks>
public sealed record DepotError(string Code, string Message)
{
    /// <summary>Optional extra members for the problem body (e.g. the current ETag on a failed compare-and-swap).</summary>
    public IReadOnlyDictionary<string, object?>? Extensions { get; init; }

    public static DepotError NotFound(string what) => new(ErrorCodes.NotFound, what);
    public static DepotError AlreadyExists(string what) => new(ErrorCodes.AlreadyExists, what);
    public static DepotError InvalidPath(string why) => new(ErrorCodes.InvalidPath, why);
    public static DepotError InvalidRequest(string why) => new(ErrorCodes.InvalidRequest, why);
    public static DepotError TooLarge(string why) => new(ErrorCodes.TooLarge, why);
    public static DepotError Conflict(string why) => new(ErrorCodes.Conflict, why);
    public static DepotError ChecksumMismatch(string why) => new(ErrorCodes.ChecksumMismatch, why);
    public static DepotError PreconditionFailed(string why) => new(ErrorCodes.PreconditionFailed, why);
    public static DepotError InsufficientStorage(string why) => new(ErrorCodes.InsufficientStorage, why);
    public static DepotError RangeNotSatisfiable(string why) => new(ErrorCodes.RangeNotSatisfiable, why);
}

/// <summary>Either a value or a <see cref="DepotError"/>.</summary>
public readonly struct Result<T>
{
    private readonly T? _value;

    private Result(T? value, DepotError? error)
    {
        _value = value;
        Error = error;
    }

    public DepotError? Error { get; }

    public bool IsSuccess => Error is null;

    public T Value => Error is null ? _value! : throw new InvalidOperationException($"Result holds error {Error.Code}: {Error.Message}");

    public static implicit operator Result<T>(T value) => new(value, null);

    public static implicit operator Result<T>(DepotError error) => new(default, error);

    public bool TryGetValue(out T value, out DepotError error)
    {
        value = _value!;
        error = Error!;
        return Error is null;
    }
}

/// <summary>Success without a value, or a <see cref="DepotError"/>.</summary>
public readonly struct Outcome
{
    private Outcome(DepotError? error) => Error = error;

    public DepotError? Error { get; }

    public bool IsSuccess => Error is null;

    public static Outcome Success => default;

    public static implicit operator Outcome(DepotError error) => new(error);
}
