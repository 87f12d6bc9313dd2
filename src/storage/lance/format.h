// Constants shared by the Lance 2.0 file and manifest readers and writers.
// The byte layouts they describe are in docs/lance-format.md (the subset Persisting implements).
#pragma once

#include <cstdint>
#include <string_view>

namespace persisting::lance {

// --- data files (docs/lance-format.md §2) ---
inline constexpr std::string_view kMagic = "LANC";
inline constexpr uint64_t kFileFooterSize = 40;
// A 2.0 file stores footer version 0.3; (2,0) is accepted as 2.0 as well.
inline constexpr uint16_t kFooterMajor = 0;
inline constexpr uint16_t kFooterMinor = 3;
// DataFile.file_major_version / file_minor_version for 2.0.
inline constexpr uint32_t kDataFileMajor = 2;
inline constexpr uint32_t kDataFileMinor = 0;
// Page buffers start on this boundary (LanceDB does the same; 2.0 does not require it).
inline constexpr uint64_t kBufferAlignment = 64;

inline constexpr std::string_view kArrayEncodingUrl = "/lance.encodings.ArrayEncoding";
inline constexpr std::string_view kColumnEncodingUrl = "/lance.encodings.ColumnEncoding";

// Field metadata that marks a utf8 column holding JSON text (nested lists/objects).
inline constexpr std::string_view kEncodingMetaKey = "persisting:encoding";
inline constexpr std::string_view kEncodingMetaJson = "json";
// Schema metadata of a data file's FileDescriptor: one CRC32C per page (u32 little-endian, columns
// in order, each column's pages in order) over the page's buffers, concatenated. Persisting's
// reader checks it; LanceDB ignores it. docs/lance-format.md §2.4.
inline constexpr std::string_view kPageCrcMetaKey = "persisting:page_crc32c";

// --- manifests (docs/lance-format.md §3) ---
inline constexpr uint64_t kManifestFooterSize = 16;  // i64 position, i16 0, i16 2, "LANC"
inline constexpr uint16_t kManifestMajor = 0;
inline constexpr uint16_t kManifestMinor = 2;
inline constexpr std::string_view kDataFormatName = "lance";
inline constexpr std::string_view kDataFormatVersion = "2.0";
inline constexpr std::string_view kWriterLibrary = "persisting";
inline constexpr std::string_view kWriterVersion = "0.1.0";

// Feature flags (Manifest.reader_feature_flags / writer_feature_flags).
inline constexpr uint64_t kFlagDeletionFiles = 1;
inline constexpr uint64_t kFlagStableRowIds = 2;
inline constexpr uint64_t kFlagUseV2Format = 4;  // deprecated
inline constexpr uint64_t kFlagTableConfig = 8;
inline constexpr uint64_t kFlagBasePaths = 16;
inline constexpr uint64_t kFlagNoTransactionFile = 32;
// The flags this implementation can read and append under. Anything else is refused.
// Deletion files (rows LanceDB deleted) read as gaps in the offsets, and appends carry them over.
inline constexpr uint64_t kReadableFlags =
    kFlagDeletionFiles | kFlagTableConfig | kFlagNoTransactionFile | kFlagStableRowIds;
inline constexpr uint64_t kWritableFlags = kFlagDeletionFiles | kFlagTableConfig | kFlagNoTransactionFile;

// --- directory layout ---
inline constexpr std::string_view kDataDir = "data";
inline constexpr std::string_view kVersionsDir = "_versions";
inline constexpr std::string_view kTransactionsDir = "_transactions";
inline constexpr std::string_view kVersionHintFile = "latest_version_hint.json";

}  // namespace persisting::lance
