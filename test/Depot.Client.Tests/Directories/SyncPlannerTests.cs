using Depot.Client.Directories;

namespace Depot.Client.Tests.Directories;

/// <summary>The plan alone, from hand-made snapshots (no server).</summary>
public sealed class SyncPlannerTests
{
    private static readonly DateTime Time = new(2024, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc);

    [Fact]
    public void Build_ExtraDirectoryHoldingOnlySelectedEntries_DeletedOnceAsAWhole()
    {
        var source = Tree(File("keep.txt"));
        var destination = Tree(File("keep.txt", recorded: true), Dir("old"), File("old/a.txt", recorded: true), Dir("old/sub"), File("old/sub/b.txt", recorded: true));

        var plan = SyncPlanner.Build(source, destination, true, SyncDirection.Upload, new SyncOptions { Delete = true });

        var delete = Assert.Single(plan.Deletes);
        Assert.Equal("old", delete.RelativePath);
        Assert.Equal(2, plan.Actions.Single(a => a.Kind == SyncActionKind.Delete).Size);
    }

    [Fact]
    public void Build_ExtraDirectoryHoldingAnExcludedFile_KeptAndOnlySelectedFilesDeleted()
    {
        var source = Tree();
        var destination = Tree(Dir("old"), File("old/a.txt", recorded: true));
        destination.MarkAncestorsPartial("old/b.tmp");

        var plan = SyncPlanner.Build(source, destination, true, SyncDirection.Upload, new SyncOptions { Delete = true });

        Assert.Equal(["old/a.txt"], plan.Deletes.Select(d => d.RelativePath));
    }

    [Fact]
    public void Build_WithoutDelete_PlansNoDeletion()
    {
        var plan = SyncPlanner.Build(Tree(), Tree(File("gone.txt", recorded: true)), true, SyncDirection.Upload, new SyncOptions());

        Assert.Empty(plan.Deletes);
        Assert.Empty(plan.Actions);
    }

    [Fact]
    public void Build_FileWhereSourceHasDirectoryWithoutDelete_FailsAndSkipsEverythingBelow()
    {
        var source = Tree(Dir("x"), File("x/a.txt"), File("y.txt"));
        var destination = Tree(File("x", recorded: true));

        var plan = SyncPlanner.Build(source, destination, true, SyncDirection.Upload, new SyncOptions());

        Assert.Equal("x", Assert.Single(plan.Failures).RelativePath);
        Assert.Equal(["y.txt"], plan.Sends.Select(s => s.RelativePath));
    }

    [Fact]
    public void Build_FileWhereSourceHasDirectoryWithDelete_ReplacesItFirst()
    {
        var source = Tree(Dir("x"), File("x/a.txt"));
        var destination = Tree(File("x", recorded: true));

        var plan = SyncPlanner.Build(source, destination, true, SyncDirection.Upload, new SyncOptions { Delete = true });

        Assert.Empty(plan.Failures);
        Assert.Equal("x", Assert.Single(plan.Replacements).RelativePath);
        Assert.Equal(["x/a.txt"], plan.Sends.Select(s => s.RelativePath));
    }

    [Fact]
    public void Build_SourceSymlink_SkippedAndNeverDeletedAtTheDestination()
    {
        var source = Tree();
        source.Unusable["link"] = SyncPlanner.LinkReason;
        var destination = Tree(File("link", recorded: true));

        var plan = SyncPlanner.Build(source, destination, true, SyncDirection.Upload, new SyncOptions { Delete = true });

        Assert.Empty(plan.Deletes);
        var skip = Assert.Single(plan.Actions);
        Assert.Equal((SyncActionKind.Skip, "link"), (skip.Kind, skip.RelativePath));
    }

    [Fact]
    public void Build_UnsafeRemoteName_RecordedAsFailure()
    {
        var source = Tree();
        source.Unusable["a\\b"] = LocalPaths.UnsafeName + ": 'a\\b' contains a backslash";

        var plan = SyncPlanner.Build(source, Tree(), true, SyncDirection.Download, new SyncOptions());

        var failure = Assert.Single(plan.Failures);
        Assert.Contains(LocalPaths.UnsafeName, failure.Error.Message, StringComparison.Ordinal);
        Assert.Empty(plan.Sends);
    }

    [Fact]
    public void Build_DestinationDirectoryMissing_PlansItFirst()
    {
        var plan = SyncPlanner.Build(Tree(File("a")), Tree(), destinationExists: false, SyncDirection.Upload, new SyncOptions());

        Assert.Equal((SyncActionKind.CreateDirectory, ""), (plan.Actions[0].Kind, plan.Actions[0].RelativePath));
    }

    [Theory]
    [InlineData(10, 10, 0, true, null)]
    [InlineData(11, 10, 0, true, "size differs")]
    [InlineData(10, 10, 1, true, "modification time differs")]
    [InlineData(10, 10, 0, false, "no recorded mtime")]
    public void Changed_UploadBySizeAndTime_ComparesSizeThenRecordedTime(long localSize, long remoteSize, int millisecondsApart, bool recorded, string? expected)
    {
        var local = new TreeEntry { RelativePath = "f", IsDirectory = false, Selected = true, Size = localSize, ModifiedUtc = Time.AddTicks(42) };
        var remote = new TreeEntry
        {
            RelativePath = "f",
            IsDirectory = false,
            Selected = true,
            Size = remoteSize,
            ModifiedUtc = Time.AddMilliseconds(millisecondsApart),
            HasRecordedTime = recorded,
        };

        Assert.Equal(expected, SyncPlanner.Changed(local, remote, SyncDirection.Upload, SyncCompare.SizeAndTime));
    }

    [Fact]
    public void Changed_ChecksumWithoutRemoteSha_CountsAsChanged()
    {
        var local = new TreeEntry { RelativePath = "f", IsDirectory = false, Selected = true, Size = 1, Sha256 = "ab" };
        var remote = new TreeEntry { RelativePath = "f", IsDirectory = false, Selected = true, Size = 1 };

        Assert.Equal("remote checksum unknown", SyncPlanner.Changed(local, remote, SyncDirection.Upload, SyncCompare.Checksum));
    }

    private static TreeSnapshot Tree(params TreeEntry[] entries)
    {
        var tree = new TreeSnapshot();
        foreach (var entry in entries)
        {
            tree.Entries[entry.RelativePath] = entry;
        }

        return tree;
    }

    private static TreeEntry File(string path, bool recorded = false) => new()
    {
        RelativePath = path,
        IsDirectory = false,
        Selected = true,
        Size = 1,
        ModifiedUtc = Time,
        HasRecordedTime = recorded,
        LocalPath = "/nowhere/" + path,
    };

    private static TreeEntry Dir(string path) => new() { RelativePath = path, IsDirectory = true, Selected = true };
}
