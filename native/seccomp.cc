// compileSeccomp: a seccomp filter, described by src/pod/seccomp.ts in the OCI profile's words
// (actions, architectures, comparisons by name), compiled by libseccomp into the classic BPF
// program the kernel loads. It is compiled here, in the parent, once per profile: the child
// between clone and execve may not allocate, so it only hands the finished program to seccomp(2).
#include "args.h"
#include "errors.h"
#include "ns.h"

#include <cerrno>
#include <cstring>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace tspod {
namespace {

const std::string kFn = "compileSeccomp";

// The largest integer a JS number holds exactly; a profile's wider values are refused in TS.
constexpr int64_t kMaxSafe = ((int64_t) 1 << 53) - 1;

struct Context
{
  scmp_filter_ctx ctx = nullptr;
  ~Context ()
  {
    if (ctx)
      seccomp_release (ctx);
  }
};

struct Fd
{
  int fd = -1;
  ~Fd ()
  {
    if (fd >= 0)
      close (fd);
  }
};

// An error about rule `rule` (or the filter, -1) that the TypeScript side turns into one naming
// the profile's field.
[[noreturn]] void
RuleError (Napi::Error err, int rule, int name = -1)
{
  err.Set ("rule", Napi::Number::New (err.Env (), rule));
  if (name >= 0)
    err.Set ("nameIndex", Napi::Number::New (err.Env (), name));
  throw err;
}

uint32_t
Action (Napi::Env env, const Napi::Object &o, const std::string &where, int rule)
{
  std::string name = StringValue (env, o.Get ("action"), kFn, where + ".action");
  uint32_t ret = (uint32_t) IntValue (
      env, o.Get ("errnoRet").IsUndefined () ? Napi::Number::New (env, EPERM) : o.Get ("errnoRet"), kFn,
      where + ".errnoRet", 0, 0xffff);
  if (name == "SCMP_ACT_ALLOW")
    return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_ERRNO")
    return SCMP_ACT_ERRNO (ret);
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD")
    return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS")
    return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP")
    return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_TRACE")
    return SCMP_ACT_TRACE (ret);
  if (name == "SCMP_ACT_LOG")
    return SCMP_ACT_LOG;
  RuleError (Napi::RangeError::New (env, kFn + ": " + where + ".action \"" + name + "\" is not an action tspod loads"),
             rule);
}

scmp_compare
Op (Napi::Env env, const std::string &name, const std::string &where, int rule)
{
  static const struct
  {
    const char *name;
    scmp_compare op;
  } ops[] = {
    { "SCMP_CMP_NE", SCMP_CMP_NE },
    { "SCMP_CMP_LT", SCMP_CMP_LT },
    { "SCMP_CMP_LE", SCMP_CMP_LE },
    { "SCMP_CMP_EQ", SCMP_CMP_EQ },
    { "SCMP_CMP_GE", SCMP_CMP_GE },
    { "SCMP_CMP_GT", SCMP_CMP_GT },
    { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
  };
  for (const auto &o : ops)
    if (name == o.name)
      return o.op;
  RuleError (Napi::RangeError::New (env, kFn + ": " + where + " \"" + name + "\" is not a comparison"), rule);
}

// The kernel's flags for seccomp(SECCOMP_SET_MODE_FILTER); NEW_LISTENER needs a listener tspod
// does not run, so it is not among them.
uint32_t
Flag (Napi::Env env, const std::string &name, const std::string &where)
{
  if (name == "SECCOMP_FILTER_FLAG_TSYNC")
    return SECCOMP_FILTER_FLAG_TSYNC;
  if (name == "SECCOMP_FILTER_FLAG_LOG")
    return SECCOMP_FILTER_FLAG_LOG;
  if (name == "SECCOMP_FILTER_FLAG_SPEC_ALLOW")
    return SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  RuleError (Napi::RangeError::New (env, kFn + ": " + where + " \"" + name + "\" is not a flag tspod passes"), -1);
}

void
AddArch (Napi::Env env, scmp_filter_ctx ctx, const std::string &name, const std::string &where)
{
  // The profile's SCMP_ARCH_X86_64 is libseccomp's "x86_64".
  std::string token = name.rfind ("SCMP_ARCH_", 0) == 0 ? name.substr (10) : name;
  for (char &ch : token)
    ch = (char) tolower ((unsigned char) ch);
  uint32_t arch = seccomp_arch_resolve_name (token.c_str ());
  if (arch == 0)
    RuleError (
        Napi::RangeError::New (env, kFn + ": " + where + " \"" + name + "\" is not an architecture libseccomp knows"),
        -1);
  int rc = seccomp_arch_add (ctx, arch);
  if (rc < 0 && rc != -EEXIST)
    RuleError (ErrnoError (env, -rc, "seccomp_arch_add", name.c_str ()), -1);
}

void
AddRule (Napi::Env env, scmp_filter_ctx ctx, const Napi::Value &v, int i, bool skip_unknown)
{
  std::string where = "rules[" + std::to_string (i) + "]";
  if (! v.IsObject ())
    throw Napi::TypeError::New (env, kFn + ": " + where + " must be an object");
  Napi::Object rule = v.As<Napi::Object> ();
  uint32_t action = Action (env, rule, where, i);

  std::vector<scmp_arg_cmp> args;
  Napi::Array list = ArrayValue (env, rule, kFn, "args", false, where + ".");
  for (uint32_t j = 0; j < list.Length (); j++)
    {
      std::string at = where + ".args[" + std::to_string (j) + "]";
      if (! list.Get (j).IsObject ())
        throw Napi::TypeError::New (env, kFn + ": " + at + " must be an object");
      Napi::Object a = list.Get (j).As<Napi::Object> ();
      scmp_arg_cmp cmp = {};
      cmp.arg = (unsigned int) IntValue (env, a.Get ("index"), kFn, at + ".index", 0, 5);
      cmp.op = Op (env, StringValue (env, a.Get ("op"), kFn, at + ".op"), at + ".op", i);
      cmp.datum_a = (scmp_datum_t) IntValue (env, a.Get ("value"), kFn, at + ".value", 0, kMaxSafe);
      cmp.datum_b = (scmp_datum_t) IntValue (env, a.Get ("valueTwo"), kFn, at + ".valueTwo", 0, kMaxSafe);
      args.push_back (cmp);
    }

  Napi::Array names = ArrayValue (env, rule, kFn, "names", true, where + ".");
  for (uint32_t j = 0; j < names.Length (); j++)
    {
      std::string name = StringValue (env, names.Get (j), kFn, where + ".names[" + std::to_string (j) + "]");
      // A name of another architecture resolves to a negative pseudo-number, which libseccomp
      // leaves out of the architectures that lack it; only a name no architecture has fails.
      int nr = seccomp_syscall_resolve_name (name.c_str ());
      if (nr == __NR_SCMP_ERROR && skip_unknown)
        continue;
      if (nr == __NR_SCMP_ERROR)
        RuleError (Napi::RangeError::New (env, kFn + ": \"" + name + "\" is not a system call libseccomp knows"), i,
                   (int) j);
      int rc = seccomp_rule_add_array (ctx, action, nr, (unsigned int) args.size (), args.data ());
      if (rc < 0)
        RuleError (ErrnoError (env, -rc, "seccomp_rule_add", name.c_str ()), i, (int) j);
    }
}

// The program libseccomp writes to an fd, read back whole.
Napi::Buffer<uint8_t>
Export (Napi::Env env, scmp_filter_ctx ctx)
{
  Fd mem;
  mem.fd = memfd_create ("tspod-seccomp", MFD_CLOEXEC);
  if (mem.fd < 0)
    ThrowErrno (env, errno, "memfd_create");
  int rc = seccomp_export_bpf (ctx, mem.fd);
  if (rc < 0)
    ThrowErrno (env, -rc, "seccomp_export_bpf");
  struct stat st;
  if (fstat (mem.fd, &st) < 0)
    ThrowErrno (env, errno, "fstat");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New (env, (size_t) st.st_size);
  ssize_t n = pread (mem.fd, out.Data (), out.Length (), 0);
  if (n != (ssize_t) out.Length ())
    ThrowErrno (env, n < 0 ? errno : EIO, "pread");
  return out;
}

} // namespace

// compileSeccomp({ defaultAction, defaultErrnoRet?, architectures, flags, rules, skipUnknown? }) ->
// { program: Buffer (struct sock_filter[]), flags: number }.
Napi::Value
CompileSeccomp (const Napi::CallbackInfo &info)
{
  Napi::Env env = info.Env ();
  if (! info[0].IsObject ())
    throw Napi::TypeError::New (env, kFn + ": the filter must be an object");
  Napi::Object filter = info[0].As<Napi::Object> ();

  Napi::Object def = Napi::Object::New (env);
  def.Set ("action", filter.Get ("defaultAction"));
  def.Set ("errnoRet", filter.Get ("defaultErrnoRet"));
  Context c;
  c.ctx = seccomp_init (Action (env, def, "default", -1));
  if (! c.ctx)
    ThrowErrno (env, ENOMEM, "seccomp_init");
  // A binary tree of syscall numbers instead of a list: fewer comparisons per system call.
  seccomp_attr_set (c.ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

  Napi::Array arches = ArrayValue (env, filter, kFn, "architectures", false);
  for (uint32_t i = 0; i < arches.Length (); i++)
    {
      std::string where = "architectures[" + std::to_string (i) + "]";
      AddArch (env, c.ctx, StringValue (env, arches.Get (i), kFn, where), where);
    }
  uint32_t flags = 0;
  Napi::Array flag_list = ArrayValue (env, filter, kFn, "flags", false);
  for (uint32_t i = 0; i < flag_list.Length (); i++)
    {
      std::string where = "flags[" + std::to_string (i) + "]";
      flags |= Flag (env, StringValue (env, flag_list.Get (i), kFn, where), where);
    }
  Napi::Array rules = ArrayValue (env, filter, kFn, "rules", true);
  bool skip_unknown = filter.Get ("skipUnknown").ToBoolean ().Value ();
  for (uint32_t i = 0; i < rules.Length (); i++)
    AddRule (env, c.ctx, rules.Get (i), (int) i, skip_unknown);

  Napi::Object out = Napi::Object::New (env);
  out.Set ("program", Export (env, c.ctx));
  out.Set ("flags", Napi::Number::New (env, flags));
  return out;
}

} // namespace tspod
