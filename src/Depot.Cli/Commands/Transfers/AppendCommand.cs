using System.CommandLine;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Transfers;

/// <summary><c>depot append REMOTE [LOCAL|-]</c>: appends a file or stdin to an appender file, atomically.</summary>
internal static class AppendCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("REMOTE") { Description = "An appender file (uploaded with --appendable, or made with --create)." };
        var local = new Argument<string>("LOCAL") { Description = "The local file to append ('-' or nothing: stdin).", DefaultValueFactory = _ => "-" };
        var create = new Option<bool>("--create") { Description = "Create an empty appender file first when nothing is at REMOTE." };
        var command = new Command("append", "Append a local file or stdin to a remote appender file.") { path, local, create };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var remote = CliContext.RemotePath(context.Value(path));
            var source = context.Value(local);
            if (source != "-" && !File.Exists(source))
            {
                throw CliException.NotFound($"{source}: no such local file.");
            }

            context.Subject = remote.ToString();
            if (context.Value(create) && await context.Client.TryStatAsync(remote, context.Cancellation) is null)
            {
                try
                {
                    await context.Client.CreateAppenderAsync(remote, createOnly: true, context.Cancellation);
                }
                catch (AlreadyExistsException)
                {
                    // Created meanwhile by someone else: append to theirs, as intended.
                }
            }

            await using var content = new CountingStream(source == "-" ? Console.OpenStandardInput() : File.OpenRead(source));
            var appended = await TransferView.RunAsync(context.Output, "appended", multiple: false,
                progress => context.Client.AppendAsync(remote, content, TransferOptions.Named(progress, source), context.Cancellation));
            context.Output.Info($"{source} -> {appended.Path} (appended {Units.FormatSize(content.BytesRead)}, now {Units.FormatSize(appended.Size)})");
            context.Output.WriteJson(ObjectJson.From(appended));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>A read-only pass-through that counts the bytes read (stdin has no length to ask for).</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => BytesRead;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            await base.DisposeAsync();
        }

        private int Count(int read)
        {
            BytesRead += read;
            return read;
        }
    }
}
