// libarchive 3.6's pax writer calls __archive_write_entry_filetype_unsupported, which lives
// in archive_write_set_format.o beside archive_write_set_format(code): a table of every
// writer, xar's among them, and xar needs libxml2 (and so ICU). Defined here, and pulled in
// by -u (CMakeLists.txt), a static link of libarchive.a takes the pax writer alone and no
// libxml2. Same messages and code (ARCHIVE_ERRNO_FILE_FORMAT is EINVAL on Linux) as
// libarchive's archive_write_set_format.c.
#include <archive.h>
#include <archive_entry.h>

#include <cerrno>

extern "C" void __archive_write_entry_filetype_unsupported(struct archive* a,
                                                           struct archive_entry* entry,
                                                           const char* format) {
  const char* name = nullptr;
  switch (archive_entry_filetype(entry)) {
    case AE_IFCHR: name = "character device"; break;
    case AE_IFBLK: name = "block device"; break;
    case AE_IFIFO: name = "fifo"; break;
    case AE_IFSOCK: name = "socket"; break;
    default: break;
  }
  if (name) {
    archive_set_error(a, EINVAL, "%s: %s format cannot archive %s",
                      archive_entry_pathname(entry), format, name);
    return;
  }
  archive_set_error(a, EINVAL, "%s: unsupported filetype",
                    archive_entry_pathname(entry));
}
