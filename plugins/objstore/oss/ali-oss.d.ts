// ali-oss ships no types; the plugin declares the part it uses (OssClient in mod.ts).
declare module 'ali-oss';
