using Microsoft.Data.Sqlite;

namespace Depot.Core.Tests.TestSupport;

/// <summary>Reads a SQLite table's shape, to pin schema versions in tests.</summary>
public static class SqliteSchema
{
    /// <summary>The columns of <paramref name="table"/> in order, as "name TYPE[ notnull][ pkN]".</summary>
    public static async Task<List<string>> ColumnsAsync(string databasePath, string table, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}') ORDER BY cid";
        var columns = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var text = reader.GetString(0) + " " + reader.GetString(1);
            if (reader.GetInt64(2) != 0)
            {
                text += " notnull";
            }

            if (reader.GetInt64(3) != 0)
            {
                text += " pk" + reader.GetInt64(3);
            }

            columns.Add(text);
        }

        return columns;
    }
}
