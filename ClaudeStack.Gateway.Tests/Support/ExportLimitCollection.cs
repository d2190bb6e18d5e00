namespace ClaudeStack.Gateway.Tests.Support;

/// <summary>
/// Tests that count the export requests a receiver refused. Listeners are process-wide, so a span one of them ends is
/// exported by every provider alive at that moment; a span made too large on purpose would be refused by another
/// test's receiver too. The tests of this collection run one after another.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ExportLimitCollection
{
    public const string Name = "Export size limit";
}
