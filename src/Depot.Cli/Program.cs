using Depot.Cli.Commands;

return await DepotCommand.RunAsync(args);
